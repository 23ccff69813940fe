using Tessera.Checkpoints;
using Tessera.Parallelism;

namespace Tessera.Runtime.Tests.Parallelism;

/// <summary>Plans by name, and one multi-step conversation (prefill, decode, a subset, a rewind, a new sequence) to run under each.</summary>
internal static class ToyScenario
{
    public static ParallelPlan Plan(string name) => name switch
    {
        "single" => new(),
        "dp2" => new(Data: 2),
        "dp3" => new(Data: 3, MicroBatches: 2),
        "mp2" => new(Pipeline: 2, MicroBatches: 1),
        "pp2m4" => new(Pipeline: 2, MicroBatches: 4),
        "pp3[2,1,1]" => new(Pipeline: 3, MicroBatches: 3, LayersPerStage: [2, 1, 1]),
        "pp4m2" => new(Pipeline: 4, MicroBatches: 2),
        "tp2" => new(Tensor: 2),
        "tp4" => new(Tensor: 4, MicroBatches: 2),
        "tp2xpp2" => new(Pipeline: 2, Tensor: 2, MicroBatches: 2),
        "dp2xtp2xpp2" => new(Data: 2, Pipeline: 2, Tensor: 2, MicroBatches: 2),
        _ => throw new ArgumentException(name),
    };

    public static ParallelEngine Create(ToyCheckpoint checkpoint, ParallelPlan plan, Func<RankContext, int, bool>? fail = null) =>
        ParallelEngine.Create(checkpoint.Directory, plan, (c, rank, _) => new ToyRankProgram(c, rank, fail), ToyCheckpoint.Facts);

    public static readonly int[][] Prompts = [[1, 2, 3, 4, 5], [7, 0, 6], [3, 3, 1, 2], [5, 6], [0, 1, 2, 7, 6, 4]];

    /// <summary>Runs the conversation through <paramref name="forward"/>; returns the logits of every step.</summary>
    public static List<float[]> Run(Func<KvCache> createCache, Func<TokenBatch, float[]> forward)
    {
        var caches = Prompts.Select(_ => createCache()).ToList();
        var results = new List<float[]>
        {
            // Prefill, logits for every row.
            forward(TokenBatch.ForSequences(caches, Prompts)),
            // Decode: one token each, last logits only.
            forward(TokenBatch.ForSequences(caches, [[2], [4], [6], [1], [3]], lastLogitsOnly: true)),
            // A subset, in another order, with uneven lengths.
            forward(TokenBatch.ForSequences([caches[3], caches[1]], [[7, 7], [5]])),
        };
        // A rewind: sequence 0 goes back to 2 positions and continues from there.
        caches[0].Truncate(2);
        results.Add(forward(TokenBatch.ForSequences([caches[0], caches[4]], [[4, 4, 1], [0]], lastLogitsOnly: true)));
        // A new sequence next to an old one.
        var fresh = createCache();
        results.Add(forward(TokenBatch.ForSequences([fresh, caches[2]], [[6, 5, 4], [2]])));
        return results;
    }

    /// <summary>The single-rank program, run directly: the reference every plan must match.</summary>
    public static List<float[]> Reference(ToyCheckpoint checkpoint)
    {
        using var c = Checkpoint.Open(checkpoint.Directory);
        var program = new ToyRankProgram(c, RankContext.Single);
        return Run(program.CreateCache, b => program.RunStage(b)!);
    }
}
