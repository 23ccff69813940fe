using System.Text.RegularExpressions;
using Tessera.Checkpoints;
using Tessera.Cuda;
using Tessera.Runtime.Tests.Cuda;

namespace Tessera.Models.Tests.Cuda;

/// <summary>
/// Every generated CUDA kernel of both fixture models compiles to PTX for compute_90 with NVRTC (no GPU needed), for
/// every tensor degree the plans use (pipeline and data parallelism do not change the kernels): the shape-generic
/// engines with each fixture's config, and the specialised units, with the runtime's own kernels of the prelude. A
/// failure names the kernel and quotes NVRTC's log.
/// </summary>
public sealed partial class GeneratedKernelCompileTests
{
    public static IEnumerable<(string Name, string Source, string[] Kernels)> Programs()
    {
        var llama = ModelConfig.Load(Path.Combine(Fixtures.Directory(Fixtures.TinyLlama), "config.json"));
        var gpt2 = ModelConfig.Load(Path.Combine(Fixtures.Directory(Fixtures.TinyGpt2), "config.json"));
        foreach (int tp in new[] { 1, 2, 4 })
        {
            yield return ($"Llama.Engine tiny-llama tp{tp}", Llama.Engine.CudaProgram(llama, tp), Llama.Engine.CudaKernelNames);
            yield return ($"Gpt2.Engine tiny-gpt2 tp{tp}", Gpt2.Engine.CudaProgram(gpt2, tp), Gpt2.Engine.CudaKernelNames);
        }
        yield return ("TinyLlama", TinyLlama.CudaProgram(llama, 1), TinyLlama.CudaKernelNames);
        yield return ("TinyGpt2", TinyGpt2.CudaProgram(gpt2, 1), TinyGpt2.CudaKernelNames);
        yield return ("TinyLlamaTp2Pp2", TinyLlamaTp2Pp2.CudaProgram(llama, 2), TinyLlamaTp2Pp2.CudaKernelNames);
    }

    [NvrtcFact]
    public void EveryGeneratedKernel_CompilesToPtxForCompute90()
    {
        var failures = new List<string>();
        int compiled = 0;
        foreach (var (name, source, kernels) in Programs())
        {
            var result = TestNvrtc.Compiler.Compile(source, name.Replace(' ', '_') + ".cu", "compute_90");
            if (result is NvrtcCompileResult.Success success)
            {
                foreach (var kernel in kernels.Concat(CudaPrelude.RuntimeKernelNames))
                    if (!success.Ptx.Contains($".entry {kernel}(", StringComparison.Ordinal)) failures.Add($"{name}: no entry point {kernel} in the PTX");
                compiled += kernels.Length;
            }
            else if (result is NvrtcCompileResult.CompileError error)
            {
                failures.Add($"{name}: kernel(s) {string.Join(", ", KernelsAt(source, error.Log))} failed to compile:\n{error.Log}");
            }
            else
            {
                failures.Add($"{name}: {result}");
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n\n", failures));
        Assert.True(compiled > 30, $"only {compiled} kernels were compiled");
    }

    [Fact]
    public void TheGenericProgram_DefinesEverySizeFromTheConfig_AndTheTensorDegree()
    {
        var config = ModelConfig.Load(Path.Combine(Fixtures.Directory(Fixtures.TinyLlama), "config.json"));
        string program = Llama.Engine.CudaProgram(config, 2);
        Assert.Contains("#define Dim 64\n", program);
        Assert.Contains("#define KvHeads 4\n", program);
        Assert.Contains("#define Theta 10000.0f\n", program);
        Assert.Contains("#define TensorDegree 2\n", program);
        Assert.Equal(TinyLlama.CudaKernelNames, Llama.Engine.CudaKernelNames);
    }

    /// <summary>The kernels whose bodies hold the lines NVRTC complains about ("name.cu(123): error ...").</summary>
    private static IEnumerable<string> KernelsAt(string source, string log)
    {
        var lines = source.Split('\n');
        return ErrorLine().Matches(log).Select(m => int.Parse(m.Groups[1].Value) - 1)
            .Select(line => Enumerable.Range(0, Math.Min(line + 1, lines.Length)).Reverse()
                .Select(i => KernelDeclaration().Match(lines[i])).FirstOrDefault(m => m.Success)?.Groups[1].Value ?? $"(line {line + 1})")
            .Distinct();
    }

    [GeneratedRegex(@"\((\d+)\): error")]
    private static partial Regex ErrorLine();

    [GeneratedRegex(@"__global__ void (\w+)\(")]
    private static partial Regex KernelDeclaration();
}
