using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Tessera.Cpu;

/// <summary>
/// exp for 16 floats from JIT intrinsics only (FMA, round, shift), so it inlines into the kernels that call it.
/// CoreLib's Vector512.Exp is precompiled for a baseline ISA and only reaches AVX-512 speed once tiering recompiles
/// it; a kernel compiled ahead (AggressiveOptimization) would keep calling the slow copy.
/// exp(x) = 2^k · p(r) with x = k ln 2 + r, |r| ≤ ln2 / 2, p the degree-6 Taylor polynomial: relative error below 2e-7.
/// </summary>
internal static class VectorExp
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        x = Vector512.Min(Vector512.Max(x, Vector512.Create(-87.3f)), Vector512.Create(88.7f));
        var k = Vector512.Round(x * Vector512.Create(1.44269504088896341f));
        var r = Vector512.FusedMultiplyAdd(k, Vector512.Create(-0.693359375f), x);
        r = Vector512.FusedMultiplyAdd(k, Vector512.Create(2.12194440e-4f), r);
        var p = Vector512.Create(1f / 720);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 120));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 24));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 6));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(0.5f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
        var scale = Vector512.ShiftLeft(Vector512.ConvertToInt32(k) + Vector512.Create(127), 23).AsSingle();
        return p * scale;
    }

    /// <summary>The same computation for one float, lane for lane: results never depend on where a vector loop's tail begins.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Exp(float x)
    {
        x = MathF.Min(MathF.Max(x, -87.3f), 88.7f);
        float k = MathF.Round(x * 1.44269504088896341f);
        float r = MathF.FusedMultiplyAdd(k, -0.693359375f, x);
        r = MathF.FusedMultiplyAdd(k, 2.12194440e-4f, r);
        float p = 1f / 720;
        p = MathF.FusedMultiplyAdd(p, r, 1f / 120);
        p = MathF.FusedMultiplyAdd(p, r, 1f / 24);
        p = MathF.FusedMultiplyAdd(p, r, 1f / 6);
        p = MathF.FusedMultiplyAdd(p, r, 0.5f);
        p = MathF.FusedMultiplyAdd(p, r, 1f);
        p = MathF.FusedMultiplyAdd(p, r, 1f);
        return p * BitConverter.Int32BitsToSingle(((int)k + 127) << 23);
    }
}
