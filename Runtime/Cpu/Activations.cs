using System.Runtime.CompilerServices;

namespace Tessera.Cpu;

/// <summary>Scalar activations used inside generated element-wise loops and epilogues.</summary>
public static class Activations
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Silu(float x) => x / (1f + MathF.Exp(-x));

    /// <summary>gelu_new: 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³))).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Gelu(float x) => 0.5f * x * (1f + MathF.Tanh(0.7978845608028654f * (x + 0.044715f * x * x * x)));
}
