using System.Numerics;
using System.Runtime.InteropServices;

namespace Tessera;

/// <summary>
/// Where a span of floats first holds NaN or ±Inf. The one test for non-finite numbers: a checkpoint's weights are
/// checked with it as they load (<see cref="Checkpoints.Checkpoint"/>), and logits before anything samples, prints or
/// writes them (<see cref="NonFiniteLogitsException.ThrowIfAny"/>).
/// </summary>
public static class NonFinite
{
    /// <summary>The index of the first NaN or infinity, or -1 when every value is finite. Vectorized: x - x is 0 for a finite x, NaN otherwise.</summary>
    public static long IndexOf(ReadOnlySpan<float> values)
    {
        var vectors = MemoryMarshal.Cast<float, Vector<float>>(values);
        int vectorEnd = 0;
        for (int v = 0; v < vectors.Length; v++, vectorEnd += Vector<float>.Count)
        {
            var x = vectors[v];
            if (!Vector.EqualsAll(x - x, Vector<float>.Zero)) break;
        }
        for (int i = vectorEnd; i < values.Length; i++)
            if (!float.IsFinite(values[i])) return i;
        return -1;
    }

    /// <summary>"NaN", "+Inf" or "-Inf" (the culture's "∞" is not ASCII, and an error line is).</summary>
    public static string Name(float value) => float.IsNaN(value) ? "NaN" : value > 0 ? "+Inf" : "-Inf";
}

/// <summary>
/// The model produced NaN or an infinity among its logits (its weights are finite, so its activations overflowed):
/// nothing sampled, printed or written from such a row means anything, so it is an error, not an output.
/// </summary>
public sealed class NonFiniteLogitsException(long index, int vocab, float value)
    : ArithmeticException($"The model's logits are not finite: logit {index % vocab} of row {index / vocab} is {NonFinite.Name(value)} (its activations overflowed); no token can be drawn from them.")
{
    /// <summary>Throws when any of <paramref name="logits"/> (rows of <paramref name="vocab"/>) is NaN or infinite.</summary>
    public static void ThrowIfAny(ReadOnlySpan<float> logits, int vocab)
    {
        long at = NonFinite.IndexOf(logits);
        if (at >= 0) throw new NonFiniteLogitsException(at, vocab, logits[(int)at]);
    }
}
