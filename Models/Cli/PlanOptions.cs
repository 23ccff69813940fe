using System.CommandLine;
using System.Globalization;
using Tessera.Parallelism;

namespace Tessera.Models.Cli;

/// <summary>The plan flags shared by logits, generate, serve and plan: --dp/--pp/--sp/--ep/--tp/--micro-batches/--layers-per-stage/--device-memory/--devices.</summary>
internal sealed class PlanOptions
{
    public Option<int> Data { get; } = new("--dp") { Description = "Data-parallel replicas", DefaultValueFactory = _ => 1 };
    public Option<int> Pipeline { get; } = new("--pp") { Description = "Pipeline stages (contiguous blocks of layers)", DefaultValueFactory = _ => 1 };
    public Option<int> Tensor { get; } = new("--tp") { Description = "Tensor-parallel degree (Megatron column/row split of every layer)", DefaultValueFactory = _ => 1 };
    public Option<int> Sequence { get; } = new("--sp") { Description = "Sequence-parallel degree: each sequence's tokens split over sp devices (zig-zag blocks of a prompt), attention exact across them; each device keeps the KV cache of its own tokens", DefaultValueFactory = _ => 1 };
    public Option<int> Expert { get; } = new("--ep") { Description = "Expert-parallel degree (mixture-of-experts models): each expert rank holds 1/ep of the experts and runs attention for its own sequences; tokens reach their experts by all-to-all", DefaultValueFactory = _ => 1 };
    public Option<int> MicroBatches { get; } = new("--micro-batches", "-m") { Description = "Micro-batches per forward (GPipe); 1 with --pp is layer-wise model parallelism", DefaultValueFactory = _ => 1 };
    public Option<string?> LayersPerStage { get; } = new("--layers-per-stage") { Description = "Layers per stage by hand, e.g. 3,1 (default: balanced by the cost model)" };
    public Option<string?> DeviceMemory { get; } = new("--device-memory") { Description = "Each device's memory, e.g. 80GB: the plan's weights plus KV cache must fit" };
    public Option<string?> Devices { get; } = new("--devices") { Description = "Devices to run on, cpu:N, cuda:N or ilgpu-cpu:N (N virtual devices, = dp x pp x ep x tp; several may share one GPU; ilgpu-cpu runs the GPU back end on ILGPU's CPU accelerator; default: CPU)" };

    public Option<Tessera.Planning.PlanDType?> Weights { get; } = new("--weights") { Description = "How matrix weights are held: as the checkpoint stores them (default: F32 for a folder, a GGUF file's own types), F32, BF16 (half the bytes; decode reads the weights, so about twice as fast), Q8_0 or Q4_0 (quantized at load, as llama.cpp's); F16 and Q4_K_M for planning only (plan --dry-run, advise; tessera quantize writes a Q4_K_M file)" };

    public IEnumerable<Option> All => [Data, Pipeline, Sequence, Tensor, Expert, MicroBatches, LayersPerStage, DeviceMemory, Devices, Weights];

    /// <summary>The plan the flags describe, or null when they describe one device and no plan options.</summary>
    /// <param name="planning">true for a dry run, which takes any dtype it can price</param>
    public ParallelPlan? Read(ParseResult result, bool always = false, bool planning = false)
    {
        var plan = new ParallelPlan(result.GetValue(Data), result.GetValue(Pipeline), result.GetValue(Tensor), result.GetValue(MicroBatches),
            ParseSplit(result.GetValue(LayersPerStage)),
            result.GetValue(DeviceMemory) is { } memory ? ByteSize.Parse(memory) : null, result.GetValue(Expert), result.GetValue(Sequence))
        {
            Precision = result.GetValue(Weights) switch
            {
                null => Tessera.Cpu.WeightPrecision.Stored,
                Tessera.Planning.PlanDType.BF16 => Tessera.Cpu.WeightPrecision.BF16,
                Tessera.Planning.PlanDType.Q8_0 => Tessera.Cpu.WeightPrecision.Q8_0,
                Tessera.Planning.PlanDType.Q4_0 => Tessera.Cpu.WeightPrecision.Q4_0,
                Tessera.Planning.PlanDType.F16 or Tessera.Planning.PlanDType.Q4_K_M when !planning => throw new FormatException(
                    $"--weights {result.GetValue(Weights)} is for planning (plan --dry-run, advise): the engines hold weights as F32, BF16, Q8_0 or Q4_0, or as a GGUF file stores them (tessera quantize --type Q4_K_M writes one)."),
                _ => Tessera.Cpu.WeightPrecision.F32,
            },
        };
        if (result.GetValue(Devices) is { } devices)
        {
            int colon = devices.IndexOf(':');
            string kind = colon < 0 ? "" : devices[..colon];
            if (kind is not ("cpu" or "cuda" or "ilgpu-cpu") || !int.TryParse(devices.AsSpan(colon + 1), NumberStyles.Integer, CultureInfo.InvariantCulture, out int count) || count < 1)
                throw new FormatException($"--devices '{devices}': write cpu:N, cuda:N or ilgpu-cpu:N.");
            if (count != plan.DeviceCount)
                throw new PlanException(plan.Expert == 1 && plan.Sequence == 1
                    ? $"--devices {devices} gives {count} device(s) but the plan needs dp x pp x tp = {plan.Data} x {plan.Pipeline} x {plan.Tensor} = {plan.DeviceCount}."
                    : $"--devices {devices} gives {count} device(s) but the plan needs dp x pp x sp x ep x tp = {plan.Data} x {plan.Pipeline} x {plan.Sequence} x {plan.Expert} x {plan.Tensor} = {plan.DeviceCount}.");
        }
        bool single = plan == new ParallelPlan();
        return single && !always ? null : plan;
    }

    /// <summary>Where the ranks run: --devices cuda:N on CUDA GPUs, ilgpu-cpu:N on ILGPU's CPU accelerator, anything else on CPU virtual devices.</summary>
    public DeviceKind Device(ParseResult result) => result.GetValue(Devices) switch
    {
        { } d when d.StartsWith("cuda:", StringComparison.Ordinal) => DeviceKind.Cuda,
        { } d when d.StartsWith("ilgpu-cpu:", StringComparison.Ordinal) => DeviceKind.IlgpuCpu,
        _ => DeviceKind.Cpu,
    };

    private static int[]? ParseSplit(string? text)
    {
        if (text is null) return null;
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var split = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out split[i]))
                throw new FormatException($"--layers-per-stage: '{parts[i]}' is not a layer count (write e.g. 3,1).");
        return split;
    }
}
