using System.Collections.Concurrent;
using System.Reflection;
using ILGPU;
using ILGPU.Runtime;

namespace Tessera.Gpu;

// Launch<T1..Tn>: one overload per arity (ILGPU's loaders are typed the same way). Each loads its kernel on this
// stage's accelerator once (ILGPU compiles it then; a shape-generic engine's DeviceSizes argument specialises it)
// and launches it on this stage's stream. Generated code calls them with the kernel's method group, so a launch
// reads like the kernel's signature: _gpu.Launch(DeviceKernels.BlockQRope, _gpu.Rows(rows), q, positions, cos, sin).
public sealed partial class GpuStage
{
    private static readonly ConcurrentDictionary<(Accelerator, MethodInfo), Delegate> LoadedKernels = new();

    private TLaunch Loaded<TLaunch>(Delegate kernel, Func<Accelerator, TLaunch> load) where TLaunch : Delegate =>
        (TLaunch)LoadedKernels.GetOrAdd((Accelerator, kernel.Method), key => load(key.Item1));

    public void Launch<T1>(Action<T1> kernel, KernelConfig config, T1 a1)
        where T1 : struct =>
        Loaded(kernel, a => a.LoadKernel(kernel))(Stream, config, a1);

    public void Launch<T1, T2>(Action<T1, T2> kernel, KernelConfig config, T1 a1, T2 a2)
        where T1 : struct where T2 : struct =>
        Loaded(kernel, a => a.LoadKernel(kernel))(Stream, config, a1, a2);

    public void Launch<T1, T2, T3>(Action<T1, T2, T3> kernel, KernelConfig config, T1 a1, T2 a2, T3 a3)
        where T1 : struct where T2 : struct where T3 : struct =>
        Loaded(kernel, a => a.LoadKernel(kernel))(Stream, config, a1, a2, a3);

    public void Launch<T1, T2, T3, T4>(Action<T1, T2, T3, T4> kernel, KernelConfig config, T1 a1, T2 a2, T3 a3, T4 a4)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct =>
        Loaded(kernel, a => a.LoadKernel(kernel))(Stream, config, a1, a2, a3, a4);

    public void Launch<T1, T2, T3, T4, T5>(Action<T1, T2, T3, T4, T5> kernel, KernelConfig config, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct =>
        Loaded(kernel, a => a.LoadKernel(kernel))(Stream, config, a1, a2, a3, a4, a5);

    public void Launch<T1, T2, T3, T4, T5, T6>(Action<T1, T2, T3, T4, T5, T6> kernel, KernelConfig config, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct =>
        Loaded(kernel, a => a.LoadKernel(kernel))(Stream, config, a1, a2, a3, a4, a5, a6);

    public void Launch<T1, T2, T3, T4, T5, T6, T7>(Action<T1, T2, T3, T4, T5, T6, T7> kernel, KernelConfig config, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct where T7 : struct =>
        Loaded(kernel, a => a.LoadKernel(kernel))(Stream, config, a1, a2, a3, a4, a5, a6, a7);

    public void Launch<T1, T2, T3, T4, T5, T6, T7, T8>(Action<T1, T2, T3, T4, T5, T6, T7, T8> kernel, KernelConfig config, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct where T7 : struct where T8 : struct =>
        Loaded(kernel, a => a.LoadKernel(kernel))(Stream, config, a1, a2, a3, a4, a5, a6, a7, a8);

    public void Launch<T1, T2, T3, T4, T5, T6, T7, T8, T9>(Action<T1, T2, T3, T4, T5, T6, T7, T8, T9> kernel, KernelConfig config, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T9 a9)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct where T7 : struct where T8 : struct where T9 : struct =>
        Loaded(kernel, a => a.LoadKernel(kernel))(Stream, config, a1, a2, a3, a4, a5, a6, a7, a8, a9);

    public void Launch<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10>(Action<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10> kernel, KernelConfig config, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T9 a9, T10 a10)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct where T7 : struct where T8 : struct where T9 : struct where T10 : struct =>
        Loaded(kernel, a => a.LoadKernel(kernel))(Stream, config, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10);

    public void Launch<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11>(Action<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11> kernel, KernelConfig config, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T9 a9, T10 a10, T11 a11)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct where T7 : struct where T8 : struct where T9 : struct where T10 : struct where T11 : struct =>
        Loaded(kernel, a => a.LoadKernel(kernel))(Stream, config, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11);

    public void Launch<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12>(Action<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12> kernel, KernelConfig config, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T9 a9, T10 a10, T11 a11, T12 a12)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct where T7 : struct where T8 : struct where T9 : struct where T10 : struct where T11 : struct where T12 : struct =>
        Loaded(kernel, a => a.LoadKernel(kernel))(Stream, config, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12);

}
