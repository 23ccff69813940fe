using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Cpu;

/// <summary>
/// The vector instructions a matrix kernel is written for. The public kernels pass <see cref="CpuKernels.DetectedIsa"/>
/// to their internal overloads; tests pass each level the machine can run, so the portable kernels are exercised on an
/// AVX-512 machine too, with no switch anyone has to set and restore.
/// </summary>
internal enum CpuIsa
{
    /// <summary>Vector256, multiply then add (two roundings): x86 without FMA.</summary>
    Vector256,

    /// <summary>Vector256 with fused multiply-add: AVX2 + FMA; ARM64, where .NET runs Vector256 as two Vector128 halves.</summary>
    Vector256Fma,

    /// <summary>Vector512 with AVX-512F fused multiply-add.</summary>
    Avx512,

    /// <summary>
    /// AVX-512 plus AVX512-BF16: prefill products with BF16 weights multiply them as stored with <c>vdpbf16ps</c>
    /// (<see cref="Native.Bf16DotKernels"/>, assembled at start-up: .NET has no intrinsic for it). Linux x64.
    /// </summary>
    Avx512Bf16,
}

public static partial class CpuKernels
{
    /// <summary>The best level this machine runs (fixed for the process).</summary>
    internal static readonly CpuIsa DetectedIsa =
        Vector512.IsHardwareAccelerated && Avx512F.IsSupported ? (Native.Bf16DotKernels.IsSupported ? CpuIsa.Avx512Bf16 : CpuIsa.Avx512)
        : Fma.IsSupported || AdvSimd.IsSupported ? CpuIsa.Vector256Fma
        : CpuIsa.Vector256;

    /// <summary>Whether this machine can run kernels written for <paramref name="isa"/> (every machine runs the Vector256 ones).</summary>
    internal static bool CanRun(CpuIsa isa) => isa <= DetectedIsa;
}

/// <summary>a · b + c for the portable kernels: a generic struct parameter, so each variant compiles without a branch.</summary>
internal interface IMultiplyAdd
{
    static abstract Vector256<float> Apply(Vector256<float> a, Vector256<float> b, Vector256<float> c);
}

/// <summary>One rounding (vfmadd on x86 with FMA). Never picked where FMA is missing: the fallback is per element.</summary>
internal readonly struct FusedMultiplyAdd : IMultiplyAdd
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Apply(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, b, c);
}

/// <summary>A multiply, then an add (the JIT does not contract them into an FMA).</summary>
internal readonly struct MultiplyThenAdd : IMultiplyAdd
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Apply(Vector256<float> a, Vector256<float> b, Vector256<float> c) => a * b + c;
}
