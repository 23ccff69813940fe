using Tessera.Cuda;

namespace Tessera.Runtime.Tests.Cuda;

/// <summary>Which library files are tried, in which order (pure), and that failure is a reason, not an exception.</summary>
public class CudaLibraryProbeTests
{
    private static bool NoDirectories(string _) => false;

    [Fact]
    public void WithoutOverride_NewestCudaMajorComesFirst()
    {
        Assert.Equal(["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"],
            CudaLibraryProbe.ProbeOrder(CudaLibrary.Nvrtc, null, NoDirectories));
        Assert.Equal(["libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"],
            CudaLibraryProbe.ProbeOrder(CudaLibrary.Cublas, "", NoDirectories));
        Assert.Equal(["libcuda.so.1", "libcuda.so"], CudaLibraryProbe.ProbeOrder(CudaLibrary.Driver, null, NoDirectories));
    }

    [Fact]
    public void FolderOverride_TriesEachSonameInsideItOnly()
    {
        var folder = Path.Combine("/ci", "nvrtc");
        Assert.Equal(CudaLibraryProbe.Sonames(CudaLibrary.Nvrtc).Select(n => Path.Combine(folder, n)),
            CudaLibraryProbe.ProbeOrder(CudaLibrary.Nvrtc, folder, p => p == folder));
    }

    [Fact]
    public void FileOverride_IsTheOnlyCandidate()
    {
        Assert.Equal(["/opt/cuda/lib64/libnvrtc.so.12.4.99"],
            CudaLibraryProbe.ProbeOrder(CudaLibrary.Nvrtc, "/opt/cuda/lib64/libnvrtc.so.12.4.99", NoDirectories));
    }

    [Fact]
    public void WindowsNames_FollowTheSameOrder()
    {
        Assert.Equal(["nvrtc64_130_0.dll", "nvrtc64_120_0.dll", "nvrtc64_112_0.dll"],
            CudaLibraryProbe.ProbeOrder(CudaLibrary.Nvrtc, null, NoDirectories, windows: true));
    }

    [Fact]
    public void TryLoad_FromAnEmptyFolder_ExplainsWhatWasTried()
    {
        var folder = Directory.CreateTempSubdirectory("tessera-probe").FullName;
        try
        {
            Assert.False(CudaLibraryProbe.TryLoad(CudaLibrary.Cublas, folder, out var handle, out var from, out var reason));
            Assert.Equal(IntPtr.Zero, handle);
            Assert.Equal("", from);
            Assert.StartsWith($"libcublas not found at {folder} (tried {Path.Combine(folder, "libcublas.so.13")}", reason);
        }
        finally
        {
            Directory.Delete(folder);
        }
    }

    [Fact]
    public void Probe_NeverThrows()
    {
        // On a machine without a GPU this is the skip reason GpuFact shows; with one it lists the devices.
        var usable = CudaProbe.TryGetDevice(out CudaDeviceInfo? device, out var reason);
        Assert.Equal(usable, device is not null);
        Assert.Equal(usable, reason == "");
        Assert.Equal(usable, CudaProbe.Devices.Count > 0);
    }
}
