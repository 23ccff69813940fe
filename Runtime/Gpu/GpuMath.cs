using ILGPU;
using ILGPU.Algorithms;

namespace Tessera.Gpu;

/// <summary>The scalar functions the generated kernels call (ILGPU inlines them): activations and bf16 widening.</summary>
public static class GpuMath
{
    /// <summary>SiLU: x σ(x).</summary>
    public static float Silu(float x) => x / (1.0f + XMath.Exp(-x));

    /// <summary>GELU, tanh form ("gelu_new", GPT-2's): 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³))).</summary>
    public static float Gelu(float x) => 0.5f * x * (1.0f + XMath.Tanh(0.7978845608028654f * (x + 0.044715f * x * x * x)));

    /// <summary>sigmoid(x) = 1 / (1 + exp(-x)).</summary>
    public static float Sigmoid(float x) => 1.0f / (1.0f + XMath.Exp(-x));

    /// <summary>Soft-capping c · tanh(x / c); x itself when c is 0 (no cap).</summary>
    public static float SoftCap(float x, float cap) => cap == 0.0f ? x : cap * XMath.Tanh(x / cap);

    /// <summary>An fp32 value rounded to bf16 (to nearest, ties to even), as WeightMatrix.ToBf16 rounds on the host.</summary>
    public static ushort ToBf16(float value)
    {
        uint bits = (uint)Interop.FloatAsInt(value);
        if ((bits & 0x7FFF_FFFF) > 0x7F80_0000) return (ushort)((bits >> 16) | 0x40); // quiet NaN
        return (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
    }

    /// <summary>A bf16 value (the upper half of an fp32) widened to fp32: exact.</summary>
    public static float Bf16(ushort bits) => Interop.IntAsFloat((uint)bits << 16);
}
