using BenchmarkDotNet.Running;
using Tessera.Benchmarks;

// dotnet run -c Release --project Benchmarks -- --filter '*MatMul*'   BenchmarkDotNet suite (short runs)
// dotnet run -c Release --project Benchmarks -- gflops [seconds] [portable]   stopwatch GFLOP/s of MatMul vs the machine's peak; portable: also BF16 weights and every lower kernel level (AVX-512 without AVX512-BF16, AVX2)
// dotnet run -c Release --project Benchmarks -- tokens [DIR|small|medium] [prompt] [new] [f32|bf16] [cold|runs=N]   whole-process prefill/decode tokens/s (warm medians, or the first request)
// dotnet run -c Release --project Benchmarks -- llama-cpp [small,medium|all|DIR] [f32,bf16|both] [prompt] [new] [rounds]   Tessera vs llama.cpp's llama-bench, same weights, alternating rounds
// dotnet run -c Release --project Benchmarks -- plans [DIR|tiny-llama|medium] [sequences] [prompt] [steps]   tokens/s per parallel plan vs one device
// dotnet run -c Release --project Benchmarks -- advise-check [DIR|medium] [sequences] [prompt] [steps]   the advisor's predictions vs CPU measurements
if (args.Length > 0 && args[0] == "advise-check")
{
    Tessera.Benchmarks.EndToEnd.AdvisorCheck.Run(args[1..]);
    return;
}
// dotnet run -c Release --project Benchmarks -- sp [DIR|llama-4k] [prompt] [steps]   a long prompt's prefill under sequence parallelism vs one device, KV per device
if (args.Length > 0 && args[0] == "sp")
{
    Tessera.Benchmarks.EndToEnd.SequenceParallelPrefill.Run(args[1..]);
    return;
}
// dotnet run -c Release --project Benchmarks -- mpi [DIR|medium] [sequences] [prompt] [steps]   dp2/pp2/tp2 as threads vs as processes under mpirun; all-reduce latency and bandwidth
if (args.Length > 0 && args[0] == "mpi")
{
    Tessera.Benchmarks.EndToEnd.MultiProcessThroughput.Run(args[1..]);
    return;
}
if (args.Length > 5 && args[0] == "mpi-rank")
{
    Tessera.Benchmarks.EndToEnd.MultiProcessThroughput.RunRank(args[1..]);
    return;
}
if (args.Length > 0 && args[0] == "mpi-allreduce")
{
    Tessera.Benchmarks.EndToEnd.MultiProcessThroughput.RunAllReduce();
    return;
}
if (args.Length > 0 && args[0] == "plans")
{
    Tessera.Benchmarks.EndToEnd.PlanThroughput.Run(args[1..]);
    return;
}
// dotnet run -c Release --project Benchmarks -- moe [DIR|mixtral-small] [prompt] [new]   mixture of experts: sparse vs dense variant, weight bytes/token, ep2 and ep2 x tp2 vs one device
if (args.Length > 0 && args[0] == "moe")
{
    Tessera.Benchmarks.EndToEnd.MoeThroughput.Run(args[1..]);
    return;
}
// dotnet run -c Release --project Benchmarks -- soak [DIR|tiny-llama] [clients] [seconds]   the HTTP server under N clients: identical outputs, no 5xx, flat memory
if (args.Length > 0 && args[0] == "soak")
{
    Tessera.Benchmarks.EndToEnd.ServerSoak.Run(args[1..]);
    return;
}
// dotnet run -c Release --project Benchmarks -- gpu DIR [bf16|f32]   GPU workloads on one CUDA device (Benchmarks/gpu/run.sh drives it)
if (args.Length > 1 && args[0] == "gpu")
{
    Tessera.Benchmarks.EndToEnd.GpuThroughput.Run(args[1..]);
    return;
}
// dotnet run -c Release --project Benchmarks -- gpu-check [cuda|ilgpu-cpu]   the GPU back end against the fixtures' references, and a plan against one device
if (args.Length > 0 && args[0] == "gpu-check")
{
    Environment.ExitCode = Tessera.Benchmarks.EndToEnd.GpuCheck.Run(args[1..]);
    return;
}
// dotnet run -c Release --project Benchmarks -- tokenizers [GPT2_DIR]   our GPT-2 tokenizer vs Microsoft.ML.Tokenizers: ids agree? encode MB/s
if (args.Length > 0 && args[0] == "tokenizers")
{
    Tessera.Benchmarks.Text.TokenizerComparison.Run(args[1..]);
    return;
}
// dotnet run -c Release --project Benchmarks -- bandwidth   memory read bandwidth vs the decode product's, F32 and BF16 weights
if (args.Length > 0 && args[0] == "bandwidth")
{
    Tessera.Benchmarks.Kernels.DecodeBandwidth.Run();
    return;
}
if (args.Length > 0 && args[0] == "llama-cpp")
{
    Tessera.Benchmarks.EndToEnd.LlamaCppComparison.Run(args[1..]);
    return;
}
if (args.Length > 0 && args[0] == "tokens")
{
    Tessera.Benchmarks.EndToEnd.TokensPerSecond.Run(args[1..]);
    return;
}
if (args.Length > 0 && args[0] == "constrained")
{
    Tessera.Benchmarks.EndToEnd.ConstrainedDecoding.Run(args[1..]);
    return;
}
if (args.Length > 0 && args[0] == "gflops")
{
    QuickGflops.Run(args.Length > 1 ? double.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 0.3,
        portable: args.Length > 2 && args[2] == "portable");
    return;
}
BenchmarkSwitcher.FromAssembly(typeof(QuickGflops).Assembly).Run(args, ShortKernelConfig.Create());
