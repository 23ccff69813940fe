using Tessera.Cuda;
using Tessera.Cuda.Emulation;

namespace Tessera.Runtime.Tests.Cuda;

/// <summary>
/// The device layer on the CPU emulator: the same checks as on a GPU (<see cref="DeviceLayerChecks"/>), and what
/// makes the emulator trustworthy as a stand-in, that kernels see CUDA's threads, barriers and shuffles.
/// </summary>
public class EmulatorTests
{
    [EmulatorFact]
    public void Context_DescribesTheEmulatedDevice()
    {
        using var gpu = CudaContext.CreateEmulated();
        Assert.True(gpu.IsEmulated);
        Assert.Equal("compute_90", gpu.Architecture);
        Assert.Contains("emulator", gpu.Device.Name);
    }

    [EmulatorFact]
    public void TwoContexts_HaveTheirOwnStreams() => DeviceLayerChecks.TwoContextsOnOneDevice_HaveTheirOwnStreams(CudaContext.CreateEmulated);

    [EmulatorFact]
    public void Memory_RoundTripsFillsAndCopies()
    {
        using var gpu = CudaContext.CreateEmulated();
        DeviceLayerChecks.Memory_RoundTripsFillsAndCopies(gpu);
    }

    [EmulatorFact]
    public void Saxpy_RunsWithParamsAndStructArguments()
    {
        using var gpu = CudaContext.CreateEmulated();
        DeviceLayerChecks.Saxpy_RunsWithParamsAndStructArguments(gpu);
    }

    [EmulatorFact]
    public void BlockSum_UsesSharedMemoryAndShuffles()
    {
        using var gpu = CudaContext.CreateEmulated();
        DeviceLayerChecks.BlockSum_UsesSharedMemoryAndShuffles(gpu, 10_003);
    }

    [EmulatorFact]
    public void Sgemm_MatchesTheCpu()
    {
        using var gpu = CudaContext.CreateEmulated();
        DeviceLayerChecks.Sgemm_MatchesTheCpu(gpu);
    }

    [EmulatorFact]
    public void GemmBf16_MatchesTheCpu()
    {
        using var gpu = CudaContext.CreateEmulated();
        DeviceLayerChecks.GemmBf16_MatchesTheCpu(gpu);
    }

    [EmulatorFact]
    public void Events_TimeDeviceWork()
    {
        using var gpu = CudaContext.CreateEmulated();
        DeviceLayerChecks.Events_TimeDeviceWork(gpu);
    }

    [EmulatorFact]
    public void Threads_SeeTheirIndicesInEveryDimension()
    {
        using var gpu = CudaContext.CreateEmulated();
        using var module = DeviceLayerChecks.Load(gpu, """
            extern "C" __global__ void ids(int* out)
            {
                int block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
                int thread = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
                out[block * blockDim.x * blockDim.y * blockDim.z + thread] = block * 1000 + thread;
            }
            """, "ids.cu");
        using var output = gpu.Allocate<int>(2 * 3 * 4 * 5);
        module.Launch(module.GetFunction("ids"), new Dim3(2, 3), new Dim3(4, 5), 0, output);
        Assert.Equal(Enumerable.Range(0, 120).Select(i => i / 20 * 1000 + i % 20), output.ToArray<int>());
    }

    [EmulatorFact]
    public void SyncThreads_MakesSharedWritesVisible_AndDynamicSharedMemoryIsPerLaunch()
    {
        // Each thread writes its slot, waits, then reads its neighbour's: only correct if every write happened first.
        using var gpu = CudaContext.CreateEmulated();
        using var module = DeviceLayerChecks.Load(gpu, """
            extern "C" __global__ void rotate(const float* in, float* out)
            {
                extern __shared__ float slots[];
                const int t = threadIdx.x;
                slots[t] = in[blockIdx.x * blockDim.x + t] * 2.0f;
                __syncthreads();
                out[blockIdx.x * blockDim.x + t] = slots[(t + 1) % blockDim.x];
            }
            """, "rotate.cu");
        const int blocks = 3, threads = 96;
        var input = Enumerable.Range(0, blocks * threads).Select(i => (float)i).ToArray();
        using var dIn = gpu.Allocate<float>(input.Length);
        using var dOut = gpu.Allocate<float>(input.Length);
        dIn.Upload(input);
        module.Launch(module.GetFunction("rotate"), blocks, threads, threads * sizeof(float), dIn, dOut);
        var expected = Enumerable.Range(0, blocks * threads).Select(i => 2f * (i / threads * threads + (i % threads + 1) % threads));
        Assert.Equal(expected, dOut.ToArray<float>());
    }

    [EmulatorFact]
    public void WarpShuffles_ExchangeWithinEachWarp()
    {
        using var gpu = CudaContext.CreateEmulated();
        using var module = DeviceLayerChecks.Load(gpu, """
            extern "C" __global__ void shuffles(int* xor_out, int* down_out, int* broadcast_out)
            {
                const int t = threadIdx.x;
                xor_out[t] = __shfl_xor_sync(0xffffffffu, t, 5);
                down_out[t] = __shfl_down_sync(0xffffffffu, t, 3);
                broadcast_out[t] = __shfl_sync(0xffffffffu, t * 10, 7);
            }
            """, "shuffles.cu");
        const int n = 64;
        using var xor = gpu.Allocate<int>(n);
        using var down = gpu.Allocate<int>(n);
        using var broadcast = gpu.Allocate<int>(n);
        module.Launch(module.GetFunction("shuffles"), 1, n, 0, xor, down, broadcast);
        Assert.Equal(Enumerable.Range(0, n).Select(t => t ^ 5), xor.ToArray<int>());
        // Lanes past the end of the warp keep their own value, as __shfl_down_sync specifies.
        Assert.Equal(Enumerable.Range(0, n).Select(t => t % 32 + 3 < 32 ? t + 3 : t), down.ToArray<int>());
        Assert.Equal(Enumerable.Range(0, n).Select(t => (t / 32 * 32 + 7) * 10), broadcast.ToArray<int>());
    }

    [EmulatorFact]
    public void ADeadlockedBlock_FailsTheLaunch_InsteadOfHanging()
    {
        // Half of each warp shuffles while the other half waits at __syncthreads: neither barrier can complete.
        using var gpu = CudaContext.CreateEmulated();
        using var module = DeviceLayerChecks.Load(gpu, """
            extern "C" __global__ void divergent(float* out)
            {
                float v = threadIdx.x;
                if ((threadIdx.x & 31) < 16) v = __shfl_xor_sync(0xffffffffu, v, 1);
                __syncthreads();
                out[threadIdx.x] = v;
            }
            """, "divergent.cu");
        using var output = gpu.Allocate<float>(64);
        var e = Assert.Throws<CudaException>(() => module.Launch(module.GetFunction("divergent"), 1, 64, 0, output));
        Assert.Contains("CUDA_ERROR_LAUNCH_FAILED", e.Message);
        Assert.Contains("deadlocked", e.Message);

        // The emulator is usable afterwards.
        DeviceLayerChecks.Saxpy_RunsWithParamsAndStructArguments(gpu);
    }

    [EmulatorFact]
    public void ACompileError_ThrowsWithTheCompilersLog()
    {
        using var gpu = CudaContext.CreateEmulated();
        var e = Assert.Throws<CudaException>(() => DeviceLayerChecks.Load(gpu, TestKernels.Broken, "broken.cu"));
        Assert.Contains("CUDA_ERROR_INVALID_PTX", e.Message);
        Assert.Contains("program.cu:3", e.Message);
    }

    [EmulatorFact]
    public void Translation_BindsDynamicSharedMemory_AndAddsOneLauncherPerKernel()
    {
        string unit = EmulatedModuleCompiler.Translate(TestKernels.Saxpy + TestKernels.BlockSum);
        Assert.Equal(["saxpy", "block_sum"], EmulatedModuleCompiler.KernelNames(TestKernels.Saxpy + TestKernels.BlockSum));
        Assert.Contains("tessera_launch_saxpy(", unit);
        Assert.Contains("tessera_launch_block_sum(", unit);
        Assert.Contains("float* scores = (float*)tessera_emu::g_block->dynamic_shared;",
            EmulatedModuleCompiler.Translate("extern \"C\" __global__ void k(float* o) { extern __shared__ float scores[]; o[0] = scores[0]; }"));
    }
}
