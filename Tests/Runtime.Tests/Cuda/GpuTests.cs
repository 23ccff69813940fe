using Tessera.Cuda;

namespace Tessera.Runtime.Tests.Cuda;

/// <summary>The device layer on a real GPU (the checks of <see cref="DeviceLayerChecks"/>): skipped, with the reason, on machines without one.</summary>
public class GpuTests
{
    [GpuFact]
    public void Context_DescribesTheDevice()
    {
        using var gpu = CudaContext.Create(0);
        Assert.False(gpu.IsEmulated);
        Assert.False(string.IsNullOrWhiteSpace(gpu.Device.Name));
        Assert.True(gpu.Device.TotalMemory > 1L << 30);
        Assert.True(gpu.Device.ComputeMajor >= 5);
        Assert.Matches("^compute_[0-9]+$", gpu.Architecture);
        Assert.Equal(gpu.Device, CudaProbe.Devices[0]);
    }

    [GpuFact]
    public void TwoContextsOnOneGpu_HaveTheirOwnStreams() => DeviceLayerChecks.TwoContextsOnOneDevice_HaveTheirOwnStreams(() => CudaContext.Create(0));

    [GpuFact]
    public void Memory_RoundTripsFillsAndCopies()
    {
        using var gpu = CudaContext.Create(0);
        DeviceLayerChecks.Memory_RoundTripsFillsAndCopies(gpu);
    }

    [GpuFact(needsNvrtc: true)]
    public void Saxpy_RunsWithParamsAndStructArguments()
    {
        using var gpu = CudaContext.Create(0);
        DeviceLayerChecks.Saxpy_RunsWithParamsAndStructArguments(gpu);
    }

    [GpuFact(needsNvrtc: true)]
    public void BlockSum_UsesSharedMemoryAndShuffles()
    {
        using var gpu = CudaContext.Create(0);
        DeviceLayerChecks.BlockSum_UsesSharedMemoryAndShuffles(gpu, 100_003);
    }

    [GpuFact]
    public void BadPtx_ThrowsWithTheDriversErrorName()
    {
        using var gpu = CudaContext.Create(0);
        var e = Assert.Throws<CudaException>(() => gpu.LoadModule(".version 7.8\n.target sm_90\n.address_size 64\nthis is not ptx"));
        Assert.StartsWith("cuModuleLoadData failed: CUDA_ERROR_INVALID_PTX", e.Message);
    }

    [GpuFact]
    public void Sgemm_MatchesTheCpu()
    {
        if (!CudaBlas.IsAvailable(out var reason)) Assert.Fail($"GPU present but cuBLAS missing: {reason}");
        using var gpu = CudaContext.Create(0);
        DeviceLayerChecks.Sgemm_MatchesTheCpu(gpu);
    }

    [GpuFact]
    public void GemmBf16_MatchesTheCpu()
    {
        if (!CudaBlas.IsAvailable(out var reason)) Assert.Fail($"GPU present but cuBLAS missing: {reason}");
        using var gpu = CudaContext.Create(0);
        DeviceLayerChecks.GemmBf16_MatchesTheCpu(gpu);
    }

    [GpuFact]
    public void Events_TimeGpuWork()
    {
        using var gpu = CudaContext.Create(0);
        DeviceLayerChecks.Events_TimeDeviceWork(gpu);
    }
}
