using Tessera.Experts;
using Tessera.Parallelism;

// The expert-parallel cases run ranks on threads and wait for them (with timeouts): that is what they test.
#pragma warning disable xUnit1031

namespace Tessera.Runtime.Tests.Experts;

/// <summary>
/// The router: Hugging Face Mixtral's choice (softmax over all experts, top-k, ties to the lower index, renormalised),
/// each held expert's tokens gathered once, and the weighted sum in expert order; under expert parallelism the same
/// result through the all-to-all.
/// </summary>
public sealed class ExpertRouterTests
{
    /// <summary>An "expert" that scales its rows by (expert + 1), so the combine's weights and order are visible.</summary>
    private static void RunHeldExperts(ExpertRouter router, int width)
    {
        for (int e = router.FirstExpert; e < router.EndExpert; e++)
        {
            int rows = router.RowsOf(e);
            var input = router.InputOf(e);
            var output = router.OutputOf(e, width);
            for (int i = 0; i < rows * width; i++) output[i] = input[i] * (e + 1);
        }
    }

    private static double[] Softmax(float[] z) { double m = z.Max(); var e = z.Select(v => Math.Exp(v - m)).ToArray(); return e.Select(v => v / e.Sum()).ToArray(); }

    [Fact]
    public void Route_PicksTheTopKByProbability_TiesToTheLowerIndex_AndRenormalises()
    {
        var load = new ExpertLoad(layers: 1, experts: 4);
        var router = new ExpertRouter(4, 0, 4, load);
        // Row 0: experts 1 and 3 tie for first (2.0), expert 0 is last. Row 1: expert 2 leads, 0 and 3 tie for second.
        float[] logits = [-1, 2, 0.5f, 2, /**/ 1, 0, 3, 1];
        router.Route(logits, rows: 2, experts: 4, k: 2, renormalize: true, layer: 0);
        float[] x = [1, 10, /**/ 2, 20];
        router.Dispatch(x, 2, SingleRankGroup.Instance);

        Assert.Equal([1, 1, 1, 1], Enumerable.Range(0, 4).Select(router.RowsOf));  // row 0 -> 1, 3; row 1 -> 2, then 0 (ties 3)
        Assert.Equal([2f, 20], router.InputOf(0).AsSpan(0, 2).ToArray());
        Assert.Equal([1f, 10], router.InputOf(1).AsSpan(0, 2).ToArray());
        RunHeldExperts(router, 2);
        var y = new float[4];
        router.Combine(y, 2, SingleRankGroup.Instance);

        // Row 0: equal weights 1/2: (2 x + 4 x) / 2 = 3 x. Row 1: p renormalised over experts 0 and 2.
        var p = Softmax([1, 0, 3, 1]);
        double w0 = p[0] / (p[0] + p[2]), w2 = p[2] / (p[0] + p[2]);
        Assert.Equal(3f, y[0], 5);
        Assert.Equal(30f, y[1], 4);
        Assert.Equal((float)(2 * (w0 * 1 + w2 * 3)), y[2], 5);
        Assert.Equal([1L, 1, 1, 1], load.OfLayer(0));
    }

    [Fact]
    public void WithoutRenormalising_TheWeightsAreTheSoftmaxItself()
    {
        var router = new ExpertRouter(3, 0, 3, new ExpertLoad(1, 3));
        float[] logits = [0.1f, 0.7f, -0.3f];
        router.Route(logits, 1, 3, k: 1, renormalize: false, layer: 0);
        router.Dispatch([1f], 1, SingleRankGroup.Instance);
        RunHeldExperts(router, 1);
        var y = new float[1];
        router.Combine(y, 1, SingleRankGroup.Instance);

        Assert.Equal((float)(Softmax(logits)[1] * 2), y[0], 6); // expert 1 scales by 2, weighted by its p
    }

    [Fact]
    public void AnExpertNoTokenChose_GetsNoRows()
    {
        var router = new ExpertRouter(4, 0, 4, new ExpertLoad(1, 4));
        router.Route([5, 0, 0, 4, /**/ 5, 0, 0, 4], 2, 4, k: 2, renormalize: true, layer: 0);
        router.Dispatch(new float[2], 1, SingleRankGroup.Instance);
        Assert.Equal([2, 0, 0, 2], Enumerable.Range(0, 4).Select(router.RowsOf));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    public void ATopKOutsideOneToTheExperts_IsRefused(int k)
    {
        var router = new ExpertRouter(4, 0, 4, new ExpertLoad(1, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => router.Route(new float[4], 1, 4, k, true, 0));
    }

    [Fact]
    public void NonFiniteRouterLogits_FailWithTheLayerAndRow()
    {
        var router = new ExpertRouter(2, 0, 2, new ExpertLoad(3, 2));
        var error = Assert.Throws<InvalidOperationException>(() => router.Route([0, 0, float.NaN, 1], 2, 2, 1, true, 2));
        Assert.Contains("Layer 2", error.Message);
        Assert.Contains("row 1", error.Message);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void UnderExpertParallelism_EveryRankGetsTheSingleDeviceResult_ForItsOwnRows(int ranks)
    {
        // Each rank routes its own rows (some ranks none); the experts are spread over the ranks; the all-to-all brings
        // each token to its experts' owner and back. The result must equal one router holding every expert.
        const int experts = 8, k = 3, width = 5;
        var random = new Random(4);
        int[] rowsOfRank = Enumerable.Range(0, ranks).Select(r => r == 1 ? 0 : 3 + r).ToArray();
        var logits = rowsOfRank.Select(n => Enumerable.Range(0, n * experts).Select(_ => (float)random.NextDouble() * 4).ToArray()).ToArray();
        var x = rowsOfRank.Select(n => Enumerable.Range(0, n * width).Select(_ => (float)random.NextDouble()).ToArray()).ToArray();

        var expected = new float[ranks][];
        for (int r = 0; r < ranks; r++)
        {
            var single = new ExpertRouter(experts, 0, experts, new ExpertLoad(1, experts));
            single.Route(logits[r], rowsOfRank[r], experts, k, true, 0);
            single.Dispatch(x[r], width, SingleRankGroup.Instance);
            RunHeldExperts(single, width);
            expected[r] = new float[rowsOfRank[r] * width];
            single.Combine(expected[r], width, SingleRankGroup.Instance);
        }

        using var group = new InProcessGroup(ranks);
        var actual = new float[ranks][];
        var loads = new ExpertLoad[ranks];
        var threads = Enumerable.Range(0, ranks).Select(r => Task.Factory.StartNew(() =>
        {
            int held = experts / ranks;
            loads[r] = new ExpertLoad(1, experts);
            var router = new ExpertRouter(experts, r * held, (r + 1) * held, loads[r]);
            router.Route(logits[r], rowsOfRank[r], experts, k, true, 0);
            router.Dispatch(x[r], width, group[r]);
            RunHeldExperts(router, width);
            actual[r] = new float[rowsOfRank[r] * width];
            router.Combine(actual[r], width, group[r]);
        }, TaskCreationOptions.LongRunning)).ToArray();
        Assert.True(Task.WaitAll(threads, TimeSpan.FromSeconds(10)));

        for (int r = 0; r < ranks; r++)
            Assert.Equal(expected[r], actual[r]);
        Assert.Equal(rowsOfRank.Sum() * k, loads.Sum(l => l.Total.Sum()));
        Assert.True(group.BytesSent > 0);
    }

    [Fact]
    public void TheLoadReport_GivesTokensPerExpertAndPerRank_AndTheImbalance()
    {
        var load = new ExpertLoad(2, 4);
        load.Add(0, 0, 6); load.Add(0, 1, 2); load.Add(0, 2, 0); load.Add(0, 3, 0);
        load.Add(1, 0, 2); load.Add(1, 1, 2); load.Add(1, 2, 2); load.Add(1, 3, 2);

        Assert.Equal([8L, 4, 2, 2], load.Total);
        Assert.Equal([12L, 4], ExpertLoad.PerRank(load.Total, 2));
        Assert.Equal(3.0, ExpertLoad.Imbalance(load.OfLayer(0)));   // max 6 / mean 2
        Assert.Equal(1.0, ExpertLoad.Imbalance(load.OfLayer(1)));
        string text = load.ToText(2);
        Assert.Contains("layer 0  experts [6, 2, 0, 0]  ranks [8, 0]  imbalance (max/mean) experts 3.00, ranks 2.00", text);
        var json = load.ToJson(2);
        Assert.Equal(4, (int)json["experts"]!);
        Assert.Equal(3.0, (double)json["layers"]![0]!["imbalance"]!);
        Assert.Equal("[12,4]", json["total"]!["tokens_per_rank"]!.ToJsonString());
    }
}
