using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace Tessera.Cuda;

/// <summary>
/// Finds and loads the NVIDIA libraries by probing their sonames, newest CUDA major first (13, 12, 11), then the
/// unversioned development name. We load with <see cref="NativeLibrary.TryLoad(string, out IntPtr)"/> and bind entry
/// points ourselves instead of installing a <c>DllImport</c> resolver: a resolver is one per assembly (a second one
/// throws), and explicit handles let a caller point at a particular NVRTC (CI's unpacked Debian copy) while a missing
/// library or entry point becomes a reason string rather than a <see cref="DllNotFoundException"/> at first call.
/// </summary>
public static partial class CudaLibraryProbe
{
    /// <summary>The environment variable that points at an NVRTC library file or the folder that holds it.</summary>
    public const string NvrtcPathVariable = "TESSERA_NVRTC_PATH";

    /// <summary>The file names to try for <paramref name="library"/>, in order, on Linux or Windows.</summary>
    public static IReadOnlyList<string> Sonames(CudaLibrary library, bool windows = false) => (library, windows) switch
    {
        (CudaLibrary.Driver, false) => ["libcuda.so.1", "libcuda.so"],
        (CudaLibrary.Nvrtc, false) => ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"],
        (CudaLibrary.Cublas, false) => ["libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"],
        (CudaLibrary.Driver, true) => ["nvcuda.dll"],
        (CudaLibrary.Nvrtc, true) => ["nvrtc64_130_0.dll", "nvrtc64_120_0.dll", "nvrtc64_112_0.dll"],
        (CudaLibrary.Cublas, true) => ["cublas64_13.dll", "cublas64_12.dll", "cublas64_11.dll"],
        _ => throw new ArgumentOutOfRangeException(nameof(library), library, null),
    };

    /// <summary>
    /// The candidates to load, in order. Without an override: the sonames, resolved by the system loader's search
    /// path. With one (a file or a folder): only that file, or the sonames inside that folder. An override is
    /// exclusive on purpose: someone who names a library means that one, and silently falling back to another copy
    /// would hide a typo. Pure: <paramref name="isDirectory"/> stands in for the file system.
    /// </summary>
    /// <param name="library">Which library.</param>
    /// <param name="overridePath">A file or folder to use instead of the search path, or null/empty for none.</param>
    /// <param name="isDirectory">Whether a path names an existing folder.</param>
    /// <param name="windows">Whether to use Windows file names.</param>
    public static IReadOnlyList<string> ProbeOrder(CudaLibrary library, string? overridePath, Func<string, bool> isDirectory, bool windows = false)
    {
        var names = Sonames(library, windows);
        if (string.IsNullOrWhiteSpace(overridePath)) return names;
        return isDirectory(overridePath) ? names.Select(n => Path.Combine(overridePath, n)).ToArray() : [overridePath];
    }

    /// <summary>The override the environment gives for <paramref name="library"/> (only NVRTC has one), or null.</summary>
    public static string? EnvironmentOverride(CudaLibrary library) =>
        library == CudaLibrary.Nvrtc && Environment.GetEnvironmentVariable(NvrtcPathVariable) is { Length: > 0 } path ? path : null;

    /// <summary>
    /// Loads the first candidate of <see cref="ProbeOrder"/> that the system loader accepts. On failure,
    /// <paramref name="reason"/> lists everything tried, e.g. "libnvrtc not found (tried libnvrtc.so.13, ...)".
    /// </summary>
    /// <param name="library">Which library.</param>
    /// <param name="overridePath">A file or folder, as for <see cref="ProbeOrder"/>; null for the search path.</param>
    /// <param name="handle">The loaded library; never freed, as the entry points bound from it live for the process.</param>
    /// <param name="loadedFrom">The candidate that loaded.</param>
    /// <param name="reason">Why nothing loaded, or empty.</param>
    public static bool TryLoad(CudaLibrary library, string? overridePath, out IntPtr handle, out string loadedFrom, out string reason)
    {
        var windows = OperatingSystem.IsWindows();
        var candidates = ProbeOrder(library, overridePath, Directory.Exists, windows);
        foreach (var candidate in candidates)
        {
            // A path that does not exist would make the loader search for it by name elsewhere: skip it.
            if (Path.IsPathRooted(candidate) || candidate.Contains(Path.DirectorySeparatorChar))
            {
                if (!File.Exists(candidate)) continue;
                if (library == CudaLibrary.Nvrtc) PreloadNvrtcBuiltins(Path.GetDirectoryName(Path.GetFullPath(candidate))!);
            }
            if (NativeLibrary.TryLoad(candidate, out handle))
            {
                loadedFrom = candidate;
                reason = "";
                return true;
            }
        }
        handle = IntPtr.Zero;
        loadedFrom = "";
        var where = string.IsNullOrWhiteSpace(overridePath) ? "" : $" at {overridePath}";
        reason = $"{DisplayName(library)} not found{where} (tried {string.Join(", ", candidates)})";
        return false;
    }

    /// <summary>"libcuda (the CUDA driver)", "libnvrtc", "libcublas": how messages name a library.</summary>
    public static string DisplayName(CudaLibrary library) => library switch
    {
        CudaLibrary.Driver => "libcuda (the CUDA driver)",
        CudaLibrary.Nvrtc => "libnvrtc",
        CudaLibrary.Cublas => "libcublas",
        _ => library.ToString(),
    };

    /// <summary>
    /// NVRTC dlopens its builtins library (libnvrtc-builtins.so.M.m) by soname when it compiles. In a folder that is
    /// not on the loader's search path (CI's unpacked .deb) that lookup would fail, so we load the builtins next to
    /// libnvrtc first: glibc then matches the soname against the already loaded copy.
    /// </summary>
    private static void PreloadNvrtcBuiltins(string directory)
    {
        foreach (var file in Directory.EnumerateFiles(directory))
        {
            if (NvrtcBuiltinsName().IsMatch(Path.GetFileName(file))) NativeLibrary.TryLoad(file, out _);
        }
    }

    [GeneratedRegex(@"^(libnvrtc-builtins\.so\.\d+\.\d+|nvrtc-builtins64_\d+\.dll)$")]
    private static partial Regex NvrtcBuiltinsName();
}
