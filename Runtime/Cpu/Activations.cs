using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Tessera.Cpu;

/// <summary>
/// Activations and exp, scalar and in place over spans. The span forms are what generated epilogues call: they run
/// 16 lanes at a time on <see cref="VectorExp"/>, which inlines. (Measured here: TensorPrimitives.Exp for float 11.7 ns
/// per element, slower than scalar MathF.Exp at 4.1 ns; CoreLib's Vector512.Exp 1.5 to 6 ns depending on tiering.)
/// </summary>
public static class Activations
{
    private const float GeluScale = 0.7978845608028654f; // √(2/π)

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Silu(float x) => x / (1f + VectorExp.Exp(-x));

    /// <summary>gelu_new: 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³))).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Gelu(float x)
    {
        float u = GeluScale * (x + 0.044715f * x * x * x);
        return 0.5f * x * (1f + (1f - 2f / (VectorExp.Exp(2f * u) + 1f)));
    }

    /// <summary>x ← x · sigmoid(x), in place.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Silu(Span<float> x)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            ref float start = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
            for (; i + 16 <= x.Length; i += 16)
            {
                var v = Vector512.LoadUnsafe(ref start, (nuint)i);
                (v / (Vector512<float>.One + VectorExp.Exp(-v))).StoreUnsafe(ref start, (nuint)i);
            }
        }
        for (; i < x.Length; i++) x[i] = Silu(x[i]);
    }

    /// <summary>x ← gelu_new(x), in place; tanh(u) = 1 - 2 / (exp(2u) + 1), which saturates correctly at ±∞.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Gelu(Span<float> x)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            ref float start = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
            var half = Vector512.Create(0.5f);
            var two = Vector512.Create(2f);
            for (; i + 16 <= x.Length; i += 16)
            {
                var v = Vector512.LoadUnsafe(ref start, (nuint)i);
                var u = Vector512.Create(GeluScale) * (v + Vector512.Create(0.044715f) * v * v * v);
                var tanh = Vector512<float>.One - two / (VectorExp.Exp(two * u) + Vector512<float>.One);
                (half * v * (Vector512<float>.One + tanh)).StoreUnsafe(ref start, (nuint)i);
            }
        }
        for (; i < x.Length; i++) x[i] = Gelu(x[i]);
    }

    /// <summary>sigmoid(x) = 1 / (1 + exp(-x)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sigmoid(float x) => 1f / (1f + VectorExp.Exp(-x));

    /// <summary>x ← sigmoid(x), in place.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Sigmoid(Span<float> x)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            ref float start = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
            for (; i + 16 <= x.Length; i += 16)
            {
                var v = Vector512.LoadUnsafe(ref start, (nuint)i);
                (Vector512<float>.One / (Vector512<float>.One + VectorExp.Exp(-v))).StoreUnsafe(ref start, (nuint)i);
            }
        }
        for (; i < x.Length; i++) x[i] = Sigmoid(x[i]);
    }

    /// <summary>Soft-capping: c · tanh(x / c) (any c but 0, as Hugging Face computes it; the sign of c cancels).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SoftCap(float x, float cap) => cap * Tanh(x / cap);

    /// <summary>x ← c · tanh(x / c), in place; x as it is when <paramref name="cap"/> is 0 (no cap).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void SoftCap(Span<float> x, float cap)
    {
        if (cap == 0) return;
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            ref float start = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
            var c = Vector512.Create(cap);
            var inverse = Vector512.Create(1f / cap);
            var two = Vector512.Create(2f);
            for (; i + 16 <= x.Length; i += 16)
            {
                var u = Vector512.LoadUnsafe(ref start, (nuint)i) * inverse;
                (c * (Vector512<float>.One - two / (VectorExp.Exp(two * u) + Vector512<float>.One))).StoreUnsafe(ref start, (nuint)i);
            }
        }
        for (; i < x.Length; i++) x[i] = cap * Tanh(x[i] * (1f / cap));
    }

    /// <summary>tanh(u) = 1 - 2 / (exp(2u) + 1), which saturates correctly at ±∞ (as <see cref="Gelu(float)"/> computes it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Tanh(float u) => 1f - 2f / (VectorExp.Exp(2f * u) + 1f);

    /// <summary>x ← exp(x), in place (softmax).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Exp(Span<float> x)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            ref float start = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
            for (; i + 16 <= x.Length; i += 16)
                VectorExp.Exp(Vector512.LoadUnsafe(ref start, (nuint)i)).StoreUnsafe(ref start, (nuint)i);
        }
        for (; i < x.Length; i++) x[i] = VectorExp.Exp(x[i]);
    }

    /// <summary>x ← softmax(scale · x), in place, in three passes (max, exp and sum, normalise), shifted by the max so exp never overflows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Softmax(Span<float> x, float scale)
    {
        float max = float.NegativeInfinity;
        foreach (float v in x) max = Math.Max(max, v);
        float shift = max * scale, sum = 0;
        int i = 0;
        if (Vector512.IsHardwareAccelerated && x.Length >= 16)
        {
            ref float start = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
            var vScale = Vector512.Create(scale);
            var vShift = Vector512.Create(shift);
            var acc = Vector512<float>.Zero;
            for (; i + 16 <= x.Length; i += 16)
            {
                var e = VectorExp.Exp(Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref start, (nuint)i), vScale, -vShift));
                e.StoreUnsafe(ref start, (nuint)i);
                acc += e;
            }
            sum = Vector512.Sum(acc);
        }
        for (; i < x.Length; i++)
        {
            x[i] = VectorExp.Exp(MathF.FusedMultiplyAdd(x[i], scale, -shift));
            sum += x[i];
        }
        System.Numerics.Tensors.TensorPrimitives.Multiply(x, 1f / sum, x);
    }
}
