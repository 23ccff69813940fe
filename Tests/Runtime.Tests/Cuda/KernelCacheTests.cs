using Tessera.Cuda;

namespace Tessera.Runtime.Tests.Cuda;

/// <summary>Compiled PTX is kept on disk and reused, keyed by everything that determines it.</summary>
public sealed class KernelCacheTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "tessera-kernel-cache-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_directory)) Directory.Delete(_directory, recursive: true);
    }

    [NvrtcFact]
    public void SecondRequest_IsServedFromDisk()
    {
        var cache = new KernelCache(TestNvrtc.Compiler, _directory);
        var first = Assert.IsType<NvrtcCompileResult.Success>(cache.GetOrCompile(TestKernels.Saxpy, "saxpy.cu"));
        var second = Assert.IsType<NvrtcCompileResult.Success>(cache.GetOrCompile(TestKernels.Saxpy, "saxpy.cu"));
        Assert.Equal(first.Ptx, second.Ptx);
        Assert.Equal((1, 1), (cache.Compilations, cache.Hits));
        Assert.Single(Directory.GetFiles(_directory, "*.ptx"));

        // A new process (a new cache object over the same folder) compiles nothing.
        var again = new KernelCache(TestNvrtc.Compiler, _directory);
        Assert.Equal(first.Ptx, again.GetOrCompile(TestKernels.Saxpy, "saxpy.cu").GetPtxOrThrow());
        Assert.Equal((0, 1), (again.Compilations, again.Hits));
    }

    [NvrtcFact]
    public void DifferentOptionsOrArchitecture_Recompile()
    {
        var cache = new KernelCache(TestNvrtc.Compiler, _directory);
        cache.GetOrCompile(TestKernels.Saxpy, "saxpy.cu").GetPtxOrThrow();
        cache.GetOrCompile(TestKernels.Saxpy, "saxpy.cu", options: ["--use_fast_math"]).GetPtxOrThrow();
        var sm80 = cache.GetOrCompile(TestKernels.Saxpy, "saxpy.cu", "compute_80").GetPtxOrThrow();
        Assert.Contains(".target sm_80", sm80);
        Assert.Equal((3, 0), (cache.Compilations, cache.Hits));
    }

    [NvrtcFact]
    public void CompileErrors_AreNotCached()
    {
        var cache = new KernelCache(TestNvrtc.Compiler, _directory);
        Assert.IsType<NvrtcCompileResult.CompileError>(cache.GetOrCompile(TestKernels.Broken, "broken.cu"));
        Assert.IsType<NvrtcCompileResult.CompileError>(cache.GetOrCompile(TestKernels.Broken, "broken.cu"));
        Assert.Equal((2, 0), (cache.Compilations, cache.Hits));
        Assert.False(Directory.Exists(_directory) && Directory.EnumerateFiles(_directory).Any());
    }

    [Fact]
    public void MissingNvrtc_IsMissing()
    {
        var cache = new KernelCache(new NvrtcCompiler("/nonexistent/tessera-nvrtc"), _directory);
        Assert.IsType<NvrtcCompileResult.Missing>(cache.GetOrCompile(TestKernels.Saxpy, "saxpy.cu"));
        Assert.Equal(0, cache.Compilations);
    }

    [Fact]
    public void Key_DependsOnEveryInput()
    {
        var v = new Version(11, 8);
        string[] opts = ["--std=c++17"];
        var key = KernelCache.Key("src", "a.cu", "compute_90", opts, v);
        Assert.Matches("^[0-9a-f]{64}$", key);
        Assert.Equal(key, KernelCache.Key("src", "a.cu", "compute_90", ["--std=c++17"], new Version(11, 8)));
        Assert.NotEqual(key, KernelCache.Key("src ", "a.cu", "compute_90", opts, v));
        Assert.NotEqual(key, KernelCache.Key("src", "b.cu", "compute_90", opts, v));
        Assert.NotEqual(key, KernelCache.Key("src", "a.cu", "compute_80", opts, v));
        Assert.NotEqual(key, KernelCache.Key("src", "a.cu", "compute_90", ["--std=c++14"], v));
        Assert.NotEqual(key, KernelCache.Key("src", "a.cu", "compute_90", opts, new Version(12, 6)));
        // Length prefixes: moving text between parts changes the key.
        Assert.NotEqual(KernelCache.Key("b", "a.cu", "x", ["o"], v), KernelCache.Key("", "a.cu", "x", ["ob"], v));
    }

    [Fact]
    public void DefaultDirectory_PrefersOverrideThenXdgThenHome()
    {
        var home = Path.Combine("/home", "me");
        Assert.Equal("/ci/kernels", KernelCache.DefaultDirectory(n => n == KernelCache.DirectoryVariable ? "/ci/kernels" : "/xdg", home));
        Assert.Equal(Path.Combine("/xdg", "tessera", "kernels"), KernelCache.DefaultDirectory(n => n == "XDG_CACHE_HOME" ? "/xdg" : null, home));
        Assert.Equal(Path.Combine(home, ".cache", "tessera", "kernels"), KernelCache.DefaultDirectory(_ => null, home));
    }
}
