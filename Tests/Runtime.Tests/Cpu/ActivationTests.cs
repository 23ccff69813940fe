using Tessera.Cpu;

namespace Tessera.Runtime.Tests.Cpu;

public class ActivationTests
{
    private static float[] Inputs() => Enumerable.Range(0, 997).Select(i => (i - 498) / 25f).ToArray(); // [-19.9, 19.9]

    [Fact]
    public void SpanActivations_GiveTheScalarResults_BitForBit_WhereverTheVectorTailBegins()
    {
        // Epilogues see row segments whose length varies with the matmul path: a value must not depend on whether
        // it fell in a vector lane or in the scalar tail (this once broke batched-vs-alone equality).
        var x = Inputs();
        foreach (int length in new[] { 997, 16, 15, 33 })
        {
            var silu = x[..length].ToArray();
            var gelu = x[..length].ToArray();
            var exp = x[..length].ToArray();
            Activations.Silu(silu);
            Activations.Gelu(gelu);
            Activations.Exp(exp);
            for (int i = 0; i < length; i++)
            {
                Assert.Equal(Activations.Silu(x[i]), silu[i]);
                Assert.Equal(Activations.Gelu(x[i]), gelu[i]);
            }
            Assert.Equal(exp[..Math.Min(length, 16)], Enumerable.Range(0, Math.Min(length, 16)).Select(i => { var one = new[] { x[i] }; Activations.Exp(one); return one[0]; }));
        }
    }

    [Fact]
    public void Activations_MatchDoublePrecision_ToFloatRounding()
    {
        foreach (float x in Inputs())
        {
            double silu = x / (1 + Math.Exp(-x));
            double gelu = 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
            Assert.True(Math.Abs(Activations.Silu(x) - silu) <= 1e-6 * Math.Max(1, Math.Abs(silu)), $"silu({x})");
            Assert.True(Math.Abs(Activations.Gelu(x) - gelu) <= 1e-6 * Math.Max(1, Math.Abs(gelu)), $"gelu({x})");
            var e = new[] { x };
            Activations.Exp(e);
            Assert.True(Math.Abs(e[0] - Math.Exp(x)) <= 3e-7 * Math.Exp(x), $"exp({x})");
        }
    }

    [Fact]
    public void SigmoidAndSoftCap_MatchDoublePrecision_AndTheirSpanForms_GiveTheScalarResults()
    {
        var x = Inputs();
        var sigmoid = x.ToArray();
        var capped = x.ToArray();
        Activations.Sigmoid(sigmoid);
        Activations.SoftCap(capped, 4f);
        for (int i = 0; i < x.Length; i++)
        {
            double expectedSigmoid = 1 / (1 + Math.Exp(-x[i])), expectedCap = 4 * Math.Tanh(x[i] / 4.0);
            Assert.Equal(Activations.Sigmoid(x[i]), sigmoid[i]);
            Assert.Equal(Activations.SoftCap(x[i], 4f), capped[i]);
            Assert.True(Math.Abs(sigmoid[i] - expectedSigmoid) <= 1e-6, $"sigmoid({x[i]})");
            // Capped values are at most 4: an absolute bound relative to the cap.
            Assert.True(Math.Abs(capped[i] - expectedCap) <= 1e-6 * 4, $"softcap({x[i]})");
        }
    }

    [Fact]
    public void SoftCap_OfZero_LeavesValuesAsTheyAre_AsANullCapInTheConfigMeans()
    {
        var x = Inputs();
        var same = x.ToArray();
        Activations.SoftCap(same, 0f);
        Assert.Equal(x, same);
    }

    [Fact]
    public void MultiplyRows_ScalesEachRowByItsOwnScalar()
    {
        var target = Enumerable.Range(0, 12).Select(i => (float)i).ToArray();
        Elementwise.MultiplyRows(target, [2f, -1f, 0.5f], 4);
        Assert.Equal([0, 2, 4, 6, -4, -5, -6, -7, 4, 4.5f, 5, 5.5f], target);
    }

    [Fact]
    public void Softmax_SumsToOne_AndMatchesTheDefinition()
    {
        var x = Enumerable.Range(0, 41).Select(i => MathF.Sin(i) * 30).ToArray();
        var y = x.ToArray();
        Activations.Softmax(y, 0.125f);
        double max = x.Max() * 0.125, sum = x.Sum(v => Math.Exp(v * 0.125 - max));
        for (int i = 0; i < x.Length; i++)
            Assert.True(Math.Abs(y[i] - Math.Exp(x[i] * 0.125 - max) / sum) <= 1e-6, $"softmax[{i}]");
        Assert.Equal(1.0, y.Sum(v => (double)v), 5);
    }
}
