using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace Tessera.Gpu;

/// <summary>
/// One virtual device of the GPU back end: an ILGPU accelerator and a stream of its own. Virtual devices on one GPU
/// share its accelerator (so their buffers can be read in place by each other's kernels) and differ in their stream,
/// as vLLM's ranks on one card would. <c>ilgpu-cpu</c> devices are ILGPU's CPU accelerator — the test instrument
/// where there is no GPU: it runs the same kernels with groups, barriers, shared memory and warp shuffles emulated
/// by the library.
/// </summary>
public sealed class GpuDevice : IDisposable
{
    /// <summary>
    /// Lanes per warp and warps per group of the CPU accelerator: 2 x 2, far from CUDA's 32 x 8 on purpose — a kernel
    /// that assumes a warp of 32, or a group of one warp, fails there. Small, too, because the accelerator runs every
    /// lane of a group as an OS thread, so each barrier costs a rendezvous of that many threads (a 16-thread group
    /// made the fixture tests half again slower on 2 cores).
    /// </summary>
    public const int CpuWarp = 2, CpuWarpsPerGroup = 2;

    /// <summary>Threads per group the kernels are launched with, at most (the CPU accelerator offers fewer).</summary>
    public const int MaxBlock = 256;

    private static readonly object Gate = new();
    private static Context? _cpuContext, _cudaContext;
    private static Accelerator? _sharedCpu;
    private static readonly Dictionary<int, Accelerator> CudaAccelerators = new();

    private GpuDevice(Accelerator accelerator, string name)
    {
        Accelerator = accelerator;
        Stream = accelerator.CreateStream();
        Name = name;
        int block = 1;
        while (block * 2 <= Math.Min(MaxBlock, accelerator.MaxNumThreadsPerGroup)) block *= 2;
        Block = block;
    }

    public Accelerator Accelerator { get; }

    /// <summary>This virtual device's stream: every launch and copy of its stage goes on it, in order.</summary>
    public AcceleratorStream Stream { get; }

    /// <summary>"ilgpu-cpu" or "cuda:0", with the virtual device's index when several share it.</summary>
    public string Name { get; }

    /// <summary>Threads per group: a power of two, <see cref="MaxBlock"/> on a GPU.</summary>
    public int Block { get; }

    /// <summary>
    /// Groups a launch should have to keep the device busy (attention splits long contexts up to it): two per
    /// multiprocessor on a GPU; 16 on the CPU accelerator, so that its tests split decode contexts too.
    /// </summary>
    public int BusyGroups => IsCuda ? 2 * Accelerator.NumMultiprocessors : 16;

    /// <summary>Whether the accelerator is a CUDA GPU (products then go to cuBLAS).</summary>
    public bool IsCuda => Accelerator is CudaAccelerator;

    /// <summary>
    /// Virtual device <paramref name="index"/> on ILGPU's CPU accelerator. All share one accelerator, as virtual
    /// devices share one GPU, so the device-to-device paths (collectives read in place, stage hand-offs) run here too.
    /// </summary>
    public static GpuDevice OpenCpu(int index)
    {
        lock (Gate)
        {
            _cpuContext ??= Context.Create(builder => builder
                .CPU(new CPUDevice(numThreadsPerWarp: CpuWarp, numWarpsPerMultiprocessor: CpuWarpsPerGroup, numMultiprocessors: 1))
                .EnableAlgorithms());
            _sharedCpu ??= _cpuContext.CreateCPUAccelerator(0, CPUAcceleratorMode.Parallel);
            return new GpuDevice(_sharedCpu, CpuName(index));
        }
    }

    /// <summary>The CUDA GPUs ILGPU finds, or a reason there are none.</summary>
    public static int CudaDeviceCount(out string reason)
    {
        try
        {
            lock (Gate)
            {
                _cudaContext ??= Context.Create(builder => builder.Cuda().EnableAlgorithms());
                int count = _cudaContext.GetCudaDevices().Count;
                reason = count == 0 ? "ILGPU found no CUDA device (no NVIDIA driver, or no GPU visible)" : "";
                return count;
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            reason = $"ILGPU could not load CUDA: {e.Message}";
            return 0;
        }
    }

    /// <summary>Virtual device <paramref name="index"/> on GPU <paramref name="gpu"/>, sharing its accelerator.</summary>
    public static GpuDevice OpenCuda(int gpu, int index)
    {
        lock (Gate)
        {
            if (CudaDeviceCount(out string reason) <= gpu) throw new InvalidOperationException(reason.Length > 0 ? reason : $"there is no cuda:{gpu}");
            if (!CudaAccelerators.TryGetValue(gpu, out var accelerator))
                CudaAccelerators[gpu] = accelerator = _cudaContext!.CreateCudaAccelerator(gpu);
            return new GpuDevice(accelerator, CudaName(gpu, index));
        }
    }

    /// <summary>The name of virtual device <paramref name="index"/> on the CPU accelerator.</summary>
    public static string CpuName(int index) => $"ilgpu-cpu:{index}";

    /// <summary>The name of virtual device <paramref name="index"/> on GPU <paramref name="gpu"/>.</summary>
    public static string CudaName(int gpu, int index) => $"cuda:{gpu} (virtual device {index})";

    /// <summary>Makes the accelerator current on the calling thread (each rank runs on its own thread).</summary>
    public void Bind() => Accelerator.Bind();

    /// <summary>Whether <paramref name="other"/> is on the same accelerator, so its buffers can be read in place.</summary>
    public bool SharesMemoryWith(GpuDevice other) => ReferenceEquals(Accelerator, other.Accelerator);

    /// <summary>Releases the stream; the accelerator is shared by the process's virtual devices and lives with it.</summary>
    public void Dispose() => Stream.Dispose();
}
