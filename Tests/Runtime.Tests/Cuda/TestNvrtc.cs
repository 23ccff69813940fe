using Tessera.Cuda;

namespace Tessera.Runtime.Tests.Cuda;

/// <summary>
/// The NVRTC the tests use: $TESSERA_NVRTC_PATH if set, else the copy .ci/fetch-nvrtc.sh unpacks under the repository's
/// .cache/nvrtc (found by walking up from the test assembly), else whatever the loader finds.
/// </summary>
internal static class TestNvrtc
{
    private static readonly Lazy<NvrtcCompiler> Shared = new(() => new NvrtcCompiler(LibraryPath));

    /// <summary>The folder or file handed to <see cref="NvrtcCompiler"/>, or null for the loader's search path.</summary>
    public static string? LibraryPath { get; } = Locate();

    /// <summary>One compiler for the whole run (NVRTC loads once per process anyway).</summary>
    public static NvrtcCompiler Compiler => Shared.Value;

    /// <summary>A kernel cache over <see cref="Compiler"/> in a folder of this test run (so runs do not share PTX).</summary>
    public static KernelCache Cache => SharedCache.Value;

    private static readonly Lazy<KernelCache> SharedCache = new(() =>
        new KernelCache(Compiler, Path.Combine(Path.GetTempPath(), "tessera-test-kernels-" + Environment.ProcessId)));

    /// <summary>Null when NVRTC is usable, else the skip reason.</summary>
    public static string? SkipReason => Compiler.IsAvailable
        ? null
        : $"NVRTC not available ({Compiler.MissingReason}); run .ci/fetch-nvrtc.sh or set {CudaLibraryProbe.NvrtcPathVariable}";

    private static string? Locate()
    {
        if (Environment.GetEnvironmentVariable(CudaLibraryProbe.NvrtcPathVariable) is { Length: > 0 } path) return path;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var root = Path.Combine(dir.FullName, ".cache", "nvrtc", "root");
            if (!Directory.Exists(root)) continue;
            var lib = Directory.EnumerateFiles(root, "libnvrtc.so*", SearchOption.AllDirectories)
                .FirstOrDefault(f => CudaLibraryProbe.Sonames(CudaLibrary.Nvrtc).Contains(Path.GetFileName(f)));
            if (lib is not null) return Path.GetDirectoryName(lib);
        }
        return null;
    }
}
