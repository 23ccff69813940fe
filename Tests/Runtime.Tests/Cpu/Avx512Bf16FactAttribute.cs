using Tessera.Cpu;

namespace Tessera.Runtime.Tests.Cpu;

/// <summary>A fact about the AVX512-BF16 kernels: skipped, with the reason, on a machine that cannot run them.</summary>
public sealed class Avx512Bf16FactAttribute : FactAttribute
{
    public Avx512Bf16FactAttribute()
    {
        if (!CpuKernels.CanRun(CpuIsa.Avx512Bf16)) Skip = "this machine has no AVX512-BF16 kernels (the CPU lacks the instructions, or the OS is not Linux x64)";
    }
}
