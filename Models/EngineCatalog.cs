using Tessera.Checkpoints;
using Tessera.Cpu;
using Tessera.Parallelism;

namespace Tessera.Models;

/// <summary>The architectures this assembly compiles, by Hugging Face model_type, and their engines.</summary>
public static class EngineCatalog
{
    /// <param name="ModelType">config.json's model_type</param>
    /// <param name="Class">the transformers class that computes it, as config.json's "architectures" names it</param>
    /// <param name="Rank">the generated rank program (the shape-generic engine), for any plan</param>
    /// <param name="Facts">the generated sizes-and-costs function the planner uses</param>
    /// <param name="Specialised">[Compile] units of this architecture for single devices</param>
    /// <param name="GpuRank">the generated rank program on a GPU virtual device</param>
    /// <param name="SpecialisedGpu">the single-device [Compile] units on a GPU virtual device</param>
    private sealed record Architecture(
        string ModelType, string Class, Func<Checkpoint, RankContext, CpuRankOptions, IRankProgram> Rank, Func<ModelConfig, ModelFacts> Facts,
        Func<Checkpoint, ITransformerEngine>[] Specialised,
        Func<Checkpoint, RankContext, CpuRankOptions, Tessera.Gpu.GpuDevice, IRankProgram>? GpuRank,
        Func<Checkpoint, Tessera.Gpu.GpuDevice, ITransformerEngine>[] SpecialisedGpu);

    private static readonly Architecture[] Architectures =
    [
        new("llama", "LlamaForCausalLM", static (c, r, o) => new Llama.Engine(c, r, o), Llama.Engine.Facts, [static c => new TinyLlama(c)],
            static (c, r, o, device) => new Llama.Engine(c, r, o).OnGpu(device), [static (c, device) => new TinyLlama(c).OnGpu(device)]),
        new("gpt2", "GPT2LMHeadModel", static (c, r, o) => new Gpt2.Engine(c, r, o), Gpt2.Engine.Facts, [static c => new TinyGpt2(c)],
            static (c, r, o, device) => new Gpt2.Engine(c, r, o).OnGpu(device), [static (c, device) => new TinyGpt2(c).OnGpu(device)]),
        new("mixtral", "MixtralForCausalLM", static (c, r, o) => new Mixtral.Engine(c, r, o), Mixtral.Engine.Facts, [static c => new TinyMixtral(c)],
            static (c, r, o, device) => new Mixtral.Engine(c, r, o).OnGpu(device), [static (c, device) => new TinyMixtral(c).OnGpu(device)]),
        new("mistral", "MistralForCausalLM", static (c, r, o) => new Mistral.Engine(c, r, o), Mistral.Engine.Facts, [],
            static (c, r, o, device) => new Mistral.Engine(c, r, o).OnGpu(device), []),
        new("qwen2", "Qwen2ForCausalLM", static (c, r, o) => new Qwen2.Engine(c, r, o), Qwen2.Engine.Facts, [],
            static (c, r, o, device) => new Qwen2.Engine(c, r, o).OnGpu(device), []),
        new("qwen3", "Qwen3ForCausalLM", static (c, r, o) => new Qwen3.Engine(c, r, o), Qwen3.Engine.Facts, [static c => new TinyQwen3(c)],
            static (c, r, o, device) => new Qwen3.Engine(c, r, o).OnGpu(device), [static (c, device) => new TinyQwen3(c).OnGpu(device)]),
        new("qwen3_moe", "Qwen3MoeForCausalLM", static (c, r, o) => new Qwen3Moe.Engine(c, r, o), Qwen3Moe.Engine.Facts, [],
            static (c, r, o, device) => new Qwen3Moe.Engine(c, r, o).OnGpu(device), []),
        new("qwen2_moe", "Qwen2MoeForCausalLM", static (c, r, o) => new Qwen2Moe.Engine(c, r, o), Qwen2Moe.Engine.Facts, [],
            static (c, r, o, device) => new Qwen2Moe.Engine(c, r, o).OnGpu(device), []),
        new("gemma2", "Gemma2ForCausalLM", static (c, r, o) => new Gemma2.Engine(c, r, o), Gemma2.Engine.Facts, [static c => new TinyGemma2(c)],
            static (c, r, o, device) => new Gemma2.Engine(c, r, o).OnGpu(device), [static (c, device) => new TinyGemma2(c).OnGpu(device)]),
        new("gemma3_text", "Gemma3ForCausalLM", static (c, r, o) => new Gemma3.Engine(c, r, o), Gemma3.Engine.Facts, [],
            static (c, r, o, device) => new Gemma3.Engine(c, r, o).OnGpu(device), []),
        new("phi3", "Phi3ForCausalLM", static (c, r, o) => new Phi3.Engine(c, r, o), Phi3.Engine.Facts, [],
            static (c, r, o, device) => new Phi3.Engine(c, r, o).OnGpu(device), []),
    ];

    public static IEnumerable<string> ModelTypes => Architectures.Select(a => a.ModelType);

    /// <summary>The folder of a bundled checkpoint ("tiny-llama", "tiny-gpt2", "tiny-mixtral"), next to the executable.</summary>
    public static string Bundled(string name) => Path.Combine(AppContext.BaseDirectory, "Checkpoints", name);

    /// <summary>
    /// Opens a checkpoint with the engine of its architecture: on one device, or over the devices of
    /// <paramref name="plan"/> (a <see cref="ParallelEngine"/>: one CPU worker per device, each loading only its shard).
    /// </summary>
    /// <remarks>
    /// Under <c>mpirun</c> with more than one process, each process runs one rank of the plan (<see cref="Tessera.Mpi.MpiEngine"/>):
    /// rank 0 gets the engine; every other process follows rank 0's forwards and exits when rank 0 disposes it (this
    /// method never returns there).
    /// </remarks>
    public static ITransformerEngine Open(string directory, EngineKind kind = EngineKind.Generic, ParallelPlan? plan = null, DeviceKind device = DeviceKind.Cpu)
    {
        // The CPU kernels compile beside the loading of the weights instead of during the first request.
        var kernels = device == DeviceKind.Cpu ? KernelWarmUp.Start() : Task.CompletedTask;
        var engine = OpenEngine(directory, kind, plan, device);
        kernels.Wait();
        return engine;
    }

    /// <summary>Prompt rows of the warm-up forward by default: enough for the prompt paths (the packed GEMM, prompt attention).</summary>
    public const int WarmUpPromptRows = 16;

    /// <summary>The most prompt rows a warm-up runs (<see cref="WarmUpPromptRowsFor"/>): a 134M model's 128-token forward is ~0.1 s.</summary>
    public const int MaxWarmUpPromptRows = 128;

    /// <summary>
    /// The warm-up's prompt rows before a prompt of <paramref name="promptTokens"/>: as many (from 16 up to 128), so that
    /// the first request finds every buffer its prompt needs sized and resident. On the virtual machines we measure on,
    /// a 24M model's first 128-token prompt ran at ~50% of the warm speed after a 16-row warm-up (page faults on the
    /// larger activation and packing buffers) and at the warm speed after a 128-row one. Longer prompts spend
    /// proportionally more on arithmetic, so the cap costs them little.
    /// </summary>
    public static int WarmUpPromptRowsFor(int promptTokens) => Math.Clamp(promptTokens, WarmUpPromptRows, MaxWarmUpPromptRows);

    /// <summary>
    /// Runs a short prompt and one decode step through a new engine, so that the first request does not pay for what a
    /// process does once: compiling the generated program, sizing the activation buffers, touching fresh memory. Returns
    /// the cache it ran on, reset, with storage for <paramref name="positions"/> positions already resident: the first
    /// request should run on it (GreedyDecoder's cache, ContinuousBatcher.AddCache). It costs a forward of
    /// <paramref name="promptRows"/> + 1 tokens (<see cref="WarmUpPromptRowsFor"/> says how many a prompt wants).
    /// The commands that serve requests call it (generate, serve); what an engine counts (a router's expert load)
    /// includes these tokens, so the commands that report counts do not.
    /// </summary>
    public static KvCache WarmUp(ITransformerEngine engine, int positions = WarmUpPromptRows + 1, int promptRows = WarmUpPromptRows)
    {
        var cache = engine.CreateCache();
        cache.Preallocate(Math.Max(positions, promptRows + 1));
        int rows = Math.Min(Math.Max(1, promptRows), Math.Max(1, cache.Capacity - 1));
        var prompt = new int[rows];
        for (int i = 0; i < rows; i++) prompt[i] = i % engine.Shape.VocabSize;
        engine.Forward(TokenBatch.ForSequence(cache, prompt, lastLogitsOnly: true));
        if (cache.Length < cache.Capacity) engine.Forward(TokenBatch.ForSequence(cache, [0], lastLogitsOnly: true));
        cache.Reset();
        return cache;
    }

    private static ITransformerEngine OpenEngine(string directory, EngineKind kind, ParallelPlan? plan, DeviceKind device)
    {
        if (Tessera.Mpi.MpiWorld.IsMultiProcess) return OpenUnderMpi(directory, kind, plan ?? new ParallelPlan(), device);
        if (device != DeviceKind.Cpu) return OpenOnGpu(directory, kind, plan ?? new ParallelPlan(), device);
        // Anything but the single-device plan (whatever the weight precision) goes through the plan's checks and devices.
        bool parallel = plan is not null && plan with { Precision = WeightPrecision.Stored } != new ParallelPlan();
        if (parallel)
        {
            if (kind == EngineKind.Specialised)
                throw new PlanException("A specialised unit folds its plan at build time ([Compile(..., Tensor = 2, Pipeline = 2)]); give plan flags to the generic engine.");
            var ofPlan = ArchitectureOf(directory);
            return ParallelEngine.Create(directory, plan!, ofPlan.Rank, ofPlan.Facts);
        }

        using var checkpoint = Checkpoint.Open(directory);
        var architecture = ArchitectureOf(checkpoint.Config);
        var options = CpuRankOptions.Default with { Precision = plan?.Precision ?? WeightPrecision.Stored };
        if (kind == EngineKind.Generic) return (ITransformerEngine)architecture.Rank(checkpoint, RankContext.Single, options);

        var errors = new List<string>();
        foreach (var specialised in architecture.Specialised)
        {
            try
            {
                return specialised(checkpoint);
            }
            catch (CheckpointException e)
            {
                errors.Add(e.Message);
            }
        }
        throw new CheckpointException($"No specialised engine was compiled for this checkpoint's config: {string.Join(" / ", errors)}");
    }

    /// <summary>One rank of the plan per process of the MPI job: the shape-generic CPU engine's rank program, as in-process.</summary>
    private static ITransformerEngine OpenUnderMpi(string directory, EngineKind kind, ParallelPlan plan, DeviceKind device)
    {
        if (device != DeviceKind.Cpu)
            throw new PlanException("Under mpirun the ranks run on CPU: GPU ranks as processes need NCCL for their collectives, which is not built yet. Run --devices cuda without mpirun.");
        if (kind == EngineKind.Specialised)
            throw new PlanException("Under mpirun each process runs one rank of the shape-generic engine: drop --engine Specialised.");
        var architecture = ArchitectureOf(directory);
        return Tessera.Mpi.MpiEngine.Start(directory, plan, architecture.Rank, architecture.Facts);
    }

    /// <summary>
    /// The generic engine's ranks on the GPU back end: on CUDA, virtual device i on GPU i mod (GPUs present), each
    /// with its own stream, so every plan runs on a single GPU too; on <see cref="DeviceKind.IlgpuCpu"/>, every virtual
    /// device a stream of ILGPU's CPU accelerator. Kernels compile (ILGPU) on first launch.
    /// </summary>
    private static ITransformerEngine OpenOnGpu(string directory, EngineKind kind, ParallelPlan plan, DeviceKind device)
    {
        if (plan.Sequence > 1)
            throw new PlanException("The GPU back end does not run sequence parallelism yet (its attention kernel has no sharded cache): run --sp on CPU devices.");
        if (plan.Expert > 1)
            throw new PlanException("The GPU back end does not run expert parallelism yet (its experts run on every rank, dispatched densely): run --ep on CPU devices, or drop --ep (tensor parallelism splits the experts on GPUs).");
        var architecture = ArchitectureOf(directory);
        var gpuRank = architecture.GpuRank
            ?? throw new PlanException($"The GPU back end does not run {architecture.ModelType} models yet: run it on CPU devices.");
        int gpus = 0;
        if (device == DeviceKind.Cuda && (gpus = Tessera.Gpu.GpuDevice.CudaDeviceCount(out string reason)) == 0)
            throw new PlanException($"No CUDA device can be used: {reason}.");
        Tessera.Gpu.GpuDevice Open(int rank) =>
            device == DeviceKind.IlgpuCpu ? Tessera.Gpu.GpuDevice.OpenCpu(rank) : Tessera.Gpu.GpuDevice.OpenCuda(rank % gpus, rank);
        if (kind == EngineKind.Specialised)
            return OpenSpecialisedOnGpu(directory, plan, architecture, Open(0));
        string Name(int rank) => device == DeviceKind.IlgpuCpu ? Tessera.Gpu.GpuDevice.CpuName(rank) : Tessera.Gpu.GpuDevice.CudaName(rank % gpus, rank);
        return ParallelEngine.Create(directory, plan, (checkpoint, rank, options) => gpuRank(checkpoint, rank, options, Open(rank.Rank)), architecture.Facts,
            deviceName: Name);
    }

    /// <summary>A single-device [Compile] unit on one GPU virtual device: its sizes are constants in its kernels too.</summary>
    private static ITransformerEngine OpenSpecialisedOnGpu(string directory, ParallelPlan plan, Architecture architecture, Tessera.Gpu.GpuDevice device)
    {
        if (plan with { Precision = WeightPrecision.Stored } != new ParallelPlan())
            throw new PlanException("A specialised unit folds its plan at build time ([Compile(..., Tensor = 2, Pipeline = 2)]); give plan flags to the generic engine.");
        using var checkpoint = Checkpoint.Open(directory);
        var errors = new List<string>();
        foreach (var specialised in architecture.SpecialisedGpu)
        {
            try
            {
                return specialised(checkpoint, device);
            }
            catch (CheckpointException e)
            {
                errors.Add(e.Message);
            }
        }
        device.Dispose();
        throw new CheckpointException($"No specialised engine was compiled for this checkpoint's config: {string.Join(" / ", errors)}");
    }

    /// <summary>The sizes and costs of a checkpoint's model, from its config alone.</summary>
    public static ModelFacts Facts(string directory)
    {
        var config = Checkpoint.LoadConfig(directory);
        return ArchitectureOf(config).Facts(config);
    }

    private static Architecture ArchitectureOf(string directory) => ArchitectureOf(Checkpoint.LoadConfig(directory));

    private static Architecture ArchitectureOf(ModelConfig config)
    {
        // transformers picks the class by model_type; a config without one (hand-written, or from older tools) still
        // names its class in "architectures".
        string? modelType = config.GetString("model_type");
        if (modelType is null)
        {
            var classes = config.GetStrings("architectures");
            return Architectures.FirstOrDefault(a => classes.Contains(a.Class))
                ?? throw new CheckpointException(classes.Count == 0
                    ? $"{config.Path}: no \"model_type\" and no \"architectures\", so the architecture is unknown (supported: {string.Join(", ", ModelTypes)})."
                    : $"{config.Path}: no \"model_type\", and architectures {string.Join(", ", classes.Select(FileText.Quoted))} names no supported class (supported: {string.Join(", ", Architectures.Select(a => a.Class))}).");
        }
        return Architectures.FirstOrDefault(a => a.ModelType == modelType)
            ?? throw new CheckpointException($"{config.Path}: model_type {FileText.Quoted(modelType)} is not supported (supported: {string.Join(", ", ModelTypes)}).");
    }
}
