using System.Security.Cryptography;
using System.Text;

namespace Tessera.Cuda;

/// <summary>
/// Compiled PTX on disk, keyed by a SHA-256 of everything that determines it (source, name, architecture, options,
/// NVRTC version), so each kernel compiles once per machine rather than once per process. Only successes are
/// stored: a compile error is cheap to reproduce and must not outlive the fix. Safe for concurrent processes: an
/// entry is written to a temporary file and renamed into place.
/// </summary>
public sealed class KernelCache
{
    /// <summary>The environment variable that overrides the cache folder.</summary>
    public const string DirectoryVariable = "TESSERA_KERNEL_CACHE";

    private readonly NvrtcCompiler _compiler;
    private int _compilations, _hits;

    /// <param name="compiler">Compiles on a miss.</param>
    /// <param name="directory">The cache folder; null for <see cref="DefaultDirectory()"/>.</param>
    public KernelCache(NvrtcCompiler compiler, string? directory = null)
    {
        _compiler = compiler;
        Directory = directory ?? DefaultDirectory();
    }

    /// <summary>The folder holding the cached PTX, one "&lt;hash&gt;.ptx" per kernel.</summary>
    public string Directory { get; }

    /// <summary>How many times this cache called NVRTC.</summary>
    public int Compilations => Volatile.Read(ref _compilations);

    /// <summary>How many requests were answered from disk.</summary>
    public int Hits => Volatile.Read(ref _hits);

    /// <summary>$TESSERA_KERNEL_CACHE, else $XDG_CACHE_HOME/tessera/kernels, else ~/.cache/tessera/kernels.</summary>
    public static string DefaultDirectory() =>
        DefaultDirectory(Environment.GetEnvironmentVariable, Environment.GetFolderPath(Environment.SpecialFolder.UserProfile));

    /// <summary><see cref="DefaultDirectory()"/> over a given environment and home folder (pure, for tests).</summary>
    public static string DefaultDirectory(Func<string, string?> environment, string home)
    {
        if (environment(DirectoryVariable) is { Length: > 0 } explicitDir) return explicitDir;
        var root = environment("XDG_CACHE_HOME") is { Length: > 0 } xdg ? xdg : Path.Combine(home, ".cache");
        return Path.Combine(root, "tessera", "kernels");
    }

    /// <summary>
    /// The cache key: a hex SHA-256 over the inputs, each length-prefixed so that no two different inputs can
    /// concatenate to the same bytes.
    /// </summary>
    public static string Key(string source, string name, string architecture, IEnumerable<string> options, Version nvrtcVersion)
    {
        var text = new StringBuilder();
        void Add(string part) => text.Append(part.Length).Append(':').Append(part).Append('\n');
        Add("tessera-kernel-cache-v1");
        Add(nvrtcVersion.ToString());
        Add(architecture);
        Add(name);
        foreach (var option in options) Add(option);
        Add(source);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    /// <summary>The cached PTX for these inputs, or compiles (and stores) it. Same contract as <see cref="NvrtcCompiler.Compile"/>.</summary>
    public NvrtcCompileResult GetOrCompile(string source, string name, string architecture = "compute_90", IEnumerable<string>? options = null)
    {
        if (_compiler.Version is not { } version) return new NvrtcCompileResult.Missing(_compiler.MissingReason ?? "NVRTC is not available");
        var extra = options?.ToList() ?? [];
        var path = Path.Combine(Directory, Key(source, name, architecture, NvrtcCompiler.EffectiveOptions(architecture, extra), version) + ".ptx");
        if (TryRead(path) is { } cached)
        {
            Interlocked.Increment(ref _hits);
            return new NvrtcCompileResult.Success(cached, "");
        }
        Interlocked.Increment(ref _compilations);
        var result = _compiler.Compile(source, name, architecture, extra);
        if (result is NvrtcCompileResult.Success ok) Write(path, ok.Ptx);
        return result;
    }

    private static string? TryRead(string path)
    {
        try
        {
            return File.Exists(path) ? File.ReadAllText(path) : null;
        }
        catch (IOException)
        {
            return null; // A damaged or vanishing entry is a miss; the compile rewrites it.
        }
    }

    private void Write(string path, string ptx)
    {
        try
        {
            System.IO.Directory.CreateDirectory(Directory);
            var temp = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
            File.WriteAllText(temp, ptx);
            File.Move(temp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A read-only or full cache folder costs a recompile next time, never a failed run.
        }
    }
}
