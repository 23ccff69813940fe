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

    /// <summary>A bf16 value (the upper half of an fp32) widened to fp32: exact.</summary>
    public static float Bf16(ushort bits) => Interop.IntAsFloat((uint)bits << 16);
}
