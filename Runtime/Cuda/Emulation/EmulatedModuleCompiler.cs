using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Tessera.Cuda.Emulation;

/// <summary>
/// Turns a CUDA program into a shared library the emulator can launch from: the <see cref="EmulatorHeader"/>, the
/// program with its dynamic shared memory bound to the block's, and one <c>tessera_launch_&lt;kernel&gt;</c> per
/// <c>__global__</c> function that unpacks cuLaunchKernel's argument pointers into a call. g++ compiles it once per
/// machine; the library is cached on disk by a hash of everything that went into it.
/// </summary>
internal static partial class EmulatedModuleCompiler
{
    /// <summary>What an emulated module image starts with (the emulator's stand-in for PTX is the CUDA C itself).</summary>
    public const string ImageMarker = "// tessera-emulated-module\n";

    /// <summary>The environment variable naming the C++ compiler (default: g++ on the PATH).</summary>
    public const string CompilerVariable = "TESSERA_EMULATOR_CXX";

    private static readonly string[] Flags = ["-std=c++17", "-O2", "-shared", "-fPIC", "-fno-strict-aliasing", "-w", "-x", "c++"];

    /// <summary>A module image for <see cref="CudaContext.LoadModule"/> on an emulated context.</summary>
    public static string Image(string cudaSource) => ImageMarker + cudaSource;

    /// <summary>The C++ compiler, or null with the reason there is none.</summary>
    public static string? FindCompiler(out string reason)
    {
        reason = "";
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64)
        {
            reason = $"the CUDA emulator needs Linux on x86-64 (this is {RuntimeInformation.OSDescription}, {RuntimeInformation.ProcessArchitecture})";
            return null;
        }
        var named = Environment.GetEnvironmentVariable(CompilerVariable);
        if (!string.IsNullOrWhiteSpace(named)) return File.Exists(named) ? named : Fail($"{CompilerVariable}={named} does not exist", out reason);
        foreach (var folder in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(folder, "g++");
            if (File.Exists(candidate)) return candidate;
        }
        return Fail("the CUDA emulator needs g++ (not found on the PATH; set " + CompilerVariable + ")", out reason);
    }

    private static string? Fail(string why, out string reason)
    {
        reason = why;
        return null;
    }

    /// <summary>The C++ translation unit for a CUDA program (public for tests and for reading what the emulator runs).</summary>
    public static string Translate(string cudaSource)
    {
        // extern __shared__ T name[];  ->  T* name = (T*)<the block's dynamic shared memory>;
        string body = DynamicShared().Replace(cudaSource, m => $"{m.Groups[1].Value}* {m.Groups[2].Value} = ({m.Groups[1].Value}*)tessera_emu::g_block->dynamic_shared;");
        var text = new StringBuilder(EmulatorHeader.Source);
        text.Append("#line 1 \"program.cu\"\n").Append(body).Append("\n\n// Launchers: cuLaunchKernel's argument pointers unpacked into a call per thread.\n");
        foreach (var kernel in KernelNames(cudaSource))
        {
            text.Append($"extern \"C\" __attribute__((visibility(\"default\"))) int tessera_launch_{kernel}(void** params, void* packed, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned shared_bytes)\n");
            text.Append($"{{ return tessera_emu::launch({kernel}, params, packed, gx, gy, gz, bx, by, bz, shared_bytes); }}\n");
        }
        return text.ToString();
    }

    /// <summary>The <c>__global__</c> functions of a CUDA program, in order.</summary>
    public static IReadOnlyList<string> KernelNames(string cudaSource) =>
        GlobalFunction().Matches(cudaSource).Select(m => m.Groups[1].Value).Distinct().ToList();

    /// <summary>The shared library for a module image: from the cache, or compiled now. Null with g++'s log on failure.</summary>
    public static string? Compile(string image, out string log)
    {
        log = "";
        if (!image.StartsWith(ImageMarker, StringComparison.Ordinal))
        {
            log = "The Tessera CUDA emulator runs CUDA C source (CudaContext.LoadProgram), not PTX or cubin images.";
            return null;
        }
        var compiler = FindCompiler(out var reason);
        if (compiler is null)
        {
            log = reason;
            return null;
        }
        string unit = Translate(image[ImageMarker.Length..]);
        string key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(EmulatorHeader.Version + "\n" + string.Join(" ", Flags) + "\n" + unit)));
        string directory = Path.Combine(KernelCache.DefaultDirectory(), "emulated");
        string library = Path.Combine(directory, key + ".so");
        if (File.Exists(library)) return library;

        Directory.CreateDirectory(directory);
        string stem = Path.Combine(directory, $"{key}.{Environment.ProcessId}.{Guid.NewGuid():N}");
        File.WriteAllText(stem + ".cpp", unit);
        var start = new ProcessStartInfo(compiler) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var flag in Flags) start.ArgumentList.Add(flag);
        start.ArgumentList.Add(stem + ".cpp");
        start.ArgumentList.Add("-o");
        start.ArgumentList.Add(stem + ".so");
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        log = (stdout + stderr.Result).Trim();
        File.Delete(stem + ".cpp");
        if (process.ExitCode != 0)
        {
            File.Delete(stem + ".so");
            log = $"{compiler} failed (exit {process.ExitCode}):\n{log}";
            return null;
        }
        File.Move(stem + ".so", library, overwrite: true); // atomic: a concurrent process sees the old copy or the whole new one
        return library;
    }

    [GeneratedRegex(@"extern\s+__shared__\s+(?:__align__\(\d+\)\s+)?([A-Za-z_][A-Za-z_0-9 ]*?)\s+([A-Za-z_][A-Za-z_0-9]*)\s*\[\s*\]\s*;")]
    private static partial Regex DynamicShared();

    [GeneratedRegex(@"__global__\s+(?:__launch_bounds__\([^)]*\)\s+)?void\s+([A-Za-z_][A-Za-z_0-9]*)\s*\(")]
    private static partial Regex GlobalFunction();
}
