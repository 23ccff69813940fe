using System.Runtime.InteropServices;
using Tessera.Cuda;

namespace Tessera.Runtime.Tests.Cuda;

/// <summary>
/// What the device layer must do, whatever runs it: contexts, memory, compiled programs and their launches, cuBLAS,
/// events. <see cref="GpuTests"/> runs these on a GPU and <see cref="EmulatorTests"/> on the CPU emulator: one set of
/// checks, two devices.
/// </summary>
internal static class DeviceLayerChecks
{
    /// <summary>Compiles for the context: NVRTC (the tests' copy, cached per run) on a GPU, g++ on the emulator.</summary>
    public static CudaModule Load(CudaContext gpu, string source, string name) => gpu.LoadProgram(source, name, TestNvrtc.Cache);

    public static void TwoContextsOnOneDevice_HaveTheirOwnStreams(Func<CudaContext> create)
    {
        using var a = create();
        using var b = create();
        Assert.NotEqual(a.Stream, b.Stream);
        using var x = a.Allocate<float>(4);
        using var y = b.Allocate<float>(4);
        x.Upload(new[] { 1f, 2f, 3f, 4f });
        x.CopyTo(y);
        Assert.Equal([1f, 2f, 3f, 4f], y.ToArray<float>());
    }

    public static void Memory_RoundTripsFillsAndCopies(CudaContext gpu)
    {
        var data = Enumerable.Range(0, 1000).Select(i => i * 0.5f).ToArray();
        using var a = gpu.Allocate<float>(data.Length);
        using var b = gpu.Allocate<float>(data.Length);
        a.Upload(data);
        a.CopyTo(b);
        Assert.Equal(data, b.ToArray<float>());

        b.Fill(BitConverter.SingleToUInt32Bits(1f));
        Assert.All(b.ToArray<float>(), v => Assert.Equal(1f, v));

        var part = new float[10];
        a.Download<float>(part, offsetBytes: 100 * sizeof(float));
        Assert.Equal(data[100..110], part);
        Assert.Throws<ArgumentOutOfRangeException>(() => a.Upload(new float[data.Length + 1]));
    }

    public static void Saxpy_RunsWithParamsAndStructArguments(CudaContext gpu)
    {
        using var module = Load(gpu, TestKernels.Saxpy, "saxpy.cu");
        var saxpy = module.GetFunction("saxpy");
        const int n = 10_000;
        var x = Enumerable.Range(0, n).Select(i => (float)i).ToArray();
        using var dx = gpu.Allocate<float>(n);
        using var dy = gpu.Allocate<float>(n);
        dx.Upload(x);
        dy.Fill(BitConverter.SingleToUInt32Bits(1f));

        module.Launch(saxpy, CudaModule.CeilDiv(n, 256), 256, 0, n, 2f, dx, dy);
        Assert.Equal(x.Select(v => 2f * v + 1f), dy.ToArray<float>());

        module.Launch(saxpy, CudaModule.CeilDiv(n, 128), 128, 0, new SaxpyArgs(n, 3f, dx.DevicePointer, dy.DevicePointer));
        Assert.Equal(x.Select(v => 3f * v + 2f * v + 1f), dy.ToArray<float>());
    }

    [StructLayout(LayoutKind.Sequential)]
    private readonly record struct SaxpyArgs(int N, float A, ulong X, ulong Y);

    public static void BlockSum_UsesSharedMemoryAndShuffles(CudaContext gpu, int n)
    {
        using var module = Load(gpu, TestKernels.BlockSum, "block_sum.cu");
        using var dx = gpu.Allocate<float>(n);
        using var dout = gpu.Allocate<float>(1);
        dx.Upload(Enumerable.Repeat(1f, n).ToArray());
        dout.Fill(0);
        module.Launch(module.GetFunction("block_sum"), CudaModule.CeilDiv(n, 512), 512, 0, dx, dout, n);
        Assert.Equal(n, dout.ToArray<float>()[0]);
    }

    public static void Sgemm_MatchesTheCpu(CudaContext gpu)
    {
        using var blas = new CudaBlas(gpu);
        const int t = 7, n = 33, k = 65;
        var random = new Random(1);
        var x = Enumerable.Range(0, t * k).Select(_ => (float)random.NextDouble() - 0.5f).ToArray();
        var w = Enumerable.Range(0, n * k).Select(_ => (float)random.NextDouble() - 0.5f).ToArray();
        using var dx = gpu.Allocate<float>(x.Length);
        using var dw = gpu.Allocate<float>(w.Length);
        using var dy = gpu.Allocate<float>(t * n);
        dx.Upload(x);
        dw.Upload(w);
        blas.Gemm(dy, dx, dw, t, n, k);
        AssertClose(CpuXWt(x, w, t, n, k), dy.ToArray<float>(), 1e-4f);
    }

    public static void GemmBf16_MatchesTheCpu(CudaContext gpu)
    {
        using var blas = new CudaBlas(gpu);
        const int t = 5, n = 16, k = 32;
        var random = new Random(2);
        // Small multiples of 1/8 are exact in bf16, so the only error is fp32 accumulation order.
        var x = Enumerable.Range(0, t * k).Select(_ => random.Next(-8, 9) / 8f).ToArray();
        var w = Enumerable.Range(0, n * k).Select(_ => random.Next(-8, 9) / 8f).ToArray();
        using var dx = gpu.Allocate<ushort>(x.Length);
        using var dw = gpu.Allocate<ushort>(w.Length);
        using var dy = gpu.Allocate<float>(t * n);
        dx.Upload(x.Select(ToBf16).ToArray());
        dw.Upload(w.Select(ToBf16).ToArray());
        blas.GemmBf16(dy, dx, dw, t, n, k);
        AssertClose(CpuXWt(x, w, t, n, k), dy.ToArray<float>(), 1e-5f);
    }

    public static void Events_TimeDeviceWork(CudaContext gpu)
    {
        using var buffer = gpu.Allocate(64L << 20);
        var ms = CudaEvent.Time(gpu, () => buffer.Fill(0));
        Assert.InRange(ms, 0f, 10_000f);
    }

    private static ushort ToBf16(float value) => (ushort)(BitConverter.SingleToUInt32Bits(value) >> 16);

    public static float[] CpuXWt(float[] x, float[] w, int t, int n, int k)
    {
        var y = new float[t * n];
        for (var i = 0; i < t; i++)
        for (var j = 0; j < n; j++)
        {
            var sum = 0f;
            for (var p = 0; p < k; p++) sum += x[i * k + p] * w[j * k + p];
            y[i * n + j] = sum;
        }
        return y;
    }

    public static void AssertClose(float[] expected, float[] actual, float tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * (1 + Math.Abs(expected[i])), $"[{i}] expected {expected[i]}, got {actual[i]}");
    }
}
