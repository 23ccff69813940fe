using System.Runtime.Intrinsics.X86;

namespace Tessera.Runtime.Tests.Quantization;

/// <summary>A theory about DotRows' 8-bit kernels, skipped where the CPU lacks AVX2 and FMA (quantizeX then runs the exact kernels).</summary>
public sealed class QuantizeXTheoryAttribute : TheoryAttribute
{
    public QuantizeXTheoryAttribute()
    {
        if (!(Avx2.IsSupported && Fma.IsSupported)) Skip = "this CPU has no AVX2 and FMA, so DotRows has no 8-bit kernels";
    }
}
