using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Tessera.Parallelism;

namespace Tessera.Planning;

/// <summary>
/// A plan's memory, from a model's config alone (no weights read, no device started): parameters, weights at a dtype,
/// the KV cache of a batch at a context, activations, and every device's share, by the one cost model
/// (<see cref="ModelCost"/>) the engines are checked and balanced with.
/// </summary>
public sealed class MemoryEstimate
{
    private MemoryEstimate(ModelFacts facts, ParallelPlan plan, WeightFormat weights, PlanDType kvCache, int batch, int context, long? deviceMemory,
        int[] split, IReadOnlyList<DeviceEstimate> devices)
    {
        Facts = facts;
        Plan = plan;
        Weights = weights;
        KvCache = kvCache;
        Batch = batch;
        Context = context;
        DeviceMemory = deviceMemory;
        LayerSplit = split;
        Devices = devices;
    }

    public ModelFacts Facts { get; }

    public ParallelPlan Plan { get; }

    /// <summary>How the weights are priced (a dtype, or a GGUF file's own mix).</summary>
    public WeightFormat Weights { get; }

    public PlanDType KvCache { get; }

    /// <summary>Sequences held at once.</summary>
    public int Batch { get; }

    /// <summary>Positions per sequence.</summary>
    public int Context { get; }

    /// <summary>Each device's memory, when known.</summary>
    public long? DeviceMemory { get; }

    public IReadOnlyList<int> LayerSplit { get; }

    public IReadOnlyList<DeviceEstimate> Devices { get; }

    /// <summary>Every parameter once.</summary>
    public long Parameters => Facts.Parameters;

    /// <summary>The model's weights at the weight dtype, each parameter once.</summary>
    public long WeightBytes => (long)(Facts.Cost.Parameters * Weights.BytesPerParameter);

    /// <summary>The KV cache of <see cref="Batch"/> sequences of <see cref="Context"/> positions, over all layers, each value once.</summary>
    public long KvCacheBytes => (long)(Facts.Cost.KvValuesPerTokenPerLayer * Facts.Layers * (double)Context * Batch * BytesOf(KvCache));

    /// <summary>The device holding the most.</summary>
    public DeviceEstimate LargestDevice => Devices.MaxBy(d => d.TotalBytes)!;

    /// <summary>Whether every device fits its memory (null when the memory is not known).</summary>
    public bool? Fits => DeviceMemory is long memory ? Devices.All(d => d.TotalBytes <= memory) : null;

    public static double BytesOf(PlanDType dtype) => dtype switch
    {
        PlanDType.F32 => 4,
        PlanDType.Q8_0 => 34.0 / 32,
        PlanDType.Q4_0 => 18.0 / 32,
        PlanDType.Q4_K_M => 4.89 / 8,
        _ => 2,
    };

    /// <summary>
    /// The most token rows a device runs in one step when activations are sized: longer prompts prefill in chunks of
    /// this many (vLLM's max_num_batched_tokens is of this order), so the workspace does not grow with the batch.
    /// </summary>
    public const int PrefillChunkTokens = 8192;

    /// <summary>
    /// The estimate for <paramref name="plan"/> (checked as the engines check it: a <see cref="PlanException"/> lists what
    /// cannot work). Sequences are spread over the replicas and, within one, over the expert ranks (which run attention
    /// for their own sequences); each keeps its cache where its tokens are computed (1/sp of the positions).
    /// </summary>
    public static MemoryEstimate Of(ModelFacts facts, ParallelPlan plan, WeightFormat weights, PlanDType kvCache, int batch, int context, long? deviceMemory = null)
    {
        ArgumentNullException.ThrowIfNull(facts);
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(weights);
        if (kvCache.IsQuantized()) throw new ArgumentException($"A KV cache is held as F32, BF16 or F16, not {kvCache}.", nameof(kvCache));
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), $"The batch needs at least one sequence (got {batch}).");
        if (context < 1 || context > facts.ContextLength)
            throw new ArgumentOutOfRangeException(nameof(context), $"The context must be 1 to the model's {facts.ContextLength} positions (got {context}).");
        plan.ThrowIfInvalid(facts);
        var cost = facts.Cost;
        var split = plan.ResolveSplit(facts);
        var ranges = StagePartitioner.LayerRanges(split);
        // Sizes in long and double: a batch of 2^31 - 1 sequences is a question the estimate answers, not an overflow.
        long sequencesPerDevice = ((long)batch + plan.Data * plan.Expert - 1) / (plan.Data * plan.Expert);
        double kvTotal = cost.KvValuesPerTokenPerLayer * facts.Layers * (double)context * batch * BytesOf(kvCache);
        if (kvTotal >= long.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(batch),
                $"{batch} sequences of {context} positions need {kvTotal:0.###e0} bytes of KV cache, more than can be counted (8 EiB): give a smaller batch or context.");
        var devices = new List<DeviceEstimate>(plan.DeviceCount);
        for (int data = 0; data < plan.Data; data++)
            for (int stage = 0; stage < plan.Pipeline; stage++)
                for (int q = 0; q < plan.Sequence; q++)
                    for (int x = 0; x < plan.Expert; x++)
                        for (int t = 0; t < plan.Tensor; t++)
                        {
                            int layers = split[stage];
                            bool first = stage == 0, last = stage == plan.Pipeline - 1;
                            double weightBytes = cost.DeviceParameters(ranges[stage].First, ranges[stage].End, first, last, plan.Tensor, plan.Expert) * weights.BytesPerParameter;
                            double kv = cost.DeviceKvBytes(layers, (double)context * sequencesPerDevice, plan.Tensor, plan.Sequence, BytesOf(kvCache));
                            // Prompts prefill in chunks of at most PrefillChunkTokens rows, as serving engines do.
                            double rows = Math.Min(PrefillChunkTokens, Math.Ceiling((double)context / plan.Sequence) * sequencesPerDevice);
                            double activations = cost.DeviceActivationBytes(rows, Math.Min(rows, sequencesPerDevice), plan.Tensor);
                            devices.Add(new DeviceEstimate(devices.Count, data, stage, q, x, t, ranges[stage].First, ranges[stage].End,
                                (long)weightBytes, (long)kv, (long)activations));
                        }
        return new MemoryEstimate(facts, plan, weights, kvCache, batch, context, deviceMemory, split, devices);
    }

    /// <summary>The estimate as text: totals, then one line per distinct device (devices alike are counted, not repeated).</summary>
    public string ToText()
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(inv, $"{Facts.ModelName} on {Plan} (from the configuration alone: no weights read)");
        sb.AppendLine(inv, $"parameters        {Parameters.ToString("N0", inv)}");
        sb.AppendLine(inv, $"weights           {ByteSize.Format(WeightBytes)} at {Weights}");
        sb.AppendLine(inv, $"KV cache          {ByteSize.Format(KvCacheBytes)} at {KvCache} for {Batch} sequence(s) x {Context} positions");
        sb.AppendLine(inv, $"layers per stage  [{string.Join(", ", LayerSplit)}]");
        sb.AppendLine();
        var groups = Devices.GroupBy(d => (d.Stage, d.FirstLayer, d.EndLayer, d.WeightBytes, d.KvCacheBytes, d.ActivationBytes)).ToList();
        var rows = new List<string[]> { new[] { "devices", "stage", "layers", "weights", "KV cache", "activations", "total" } };
        foreach (var g in groups)
        {
            var d = g.First();
            rows.Add([
                g.Count() == 1 ? $"rank {d.Rank}" : $"{g.Count()} (ranks {d.Rank}..)", d.Stage.ToString(inv),
                d.EndLayer - d.FirstLayer == 1 ? $"{d.FirstLayer}" : $"{d.FirstLayer}-{d.EndLayer - 1}",
                ByteSize.Format(d.WeightBytes), ByteSize.Format(d.KvCacheBytes), ByteSize.Format(d.ActivationBytes), ByteSize.Format(d.TotalBytes),
            ]);
        }
        var widths = Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(r => r[c].Length)).ToArray();
        foreach (var row in rows) sb.AppendLine(string.Join("  ", row.Select((cell, c) => cell.PadRight(widths[c]))).TrimEnd());
        sb.AppendLine();
        var largest = LargestDevice;
        string verdict = DeviceMemory is not long memory
            ? $"the largest device needs {ByteSize.Format(largest.TotalBytes)} (give --gpu or --device-memory to check it fits)"
            : Fits == true
                ? $"fits: the largest device needs {ByteSize.Format(largest.TotalBytes)} of its {ByteSize.Format(memory)}"
                : $"does not fit: a device needs {ByteSize.Format(largest.TotalBytes)} but has {ByteSize.Format(memory)}";
        sb.AppendLine(verdict);
        return sb.ToString();
    }

    /// <summary>The estimate as data: {"model", "parameters", "weight_bytes", ..., "devices": [{"rank", "weight_bytes", "kv_cache_bytes", "total_bytes", ...}], "fits"}.</summary>
    public JsonObject ToJson()
    {
        var devices = new JsonArray();
        foreach (var d in Devices)
            devices.Add(new JsonObject
            {
                ["rank"] = d.Rank, ["data"] = d.DataRank, ["stage"] = d.Stage, ["sequence_rank"] = d.SequenceRank, ["expert_rank"] = d.ExpertRank,
                ["tensor"] = d.TensorRank, ["first_layer"] = d.FirstLayer, ["end_layer"] = d.EndLayer,
                ["weight_bytes"] = d.WeightBytes, ["kv_cache_bytes"] = d.KvCacheBytes, ["activation_bytes"] = d.ActivationBytes, ["total_bytes"] = d.TotalBytes,
            });
        return new JsonObject
        {
            ["model"] = Facts.ModelName,
            ["parameters"] = Parameters,
            ["weight_dtype"] = Weights.ToString(),
            ["weight_bytes"] = WeightBytes,
            ["kv_dtype"] = KvCache.ToString(),
            ["kv_cache_bytes"] = KvCacheBytes,
            ["batch"] = Batch,
            ["context"] = Context,
            ["plan"] = new JsonObject
            {
                ["dp"] = Plan.Data, ["pp"] = Plan.Pipeline, ["sp"] = Plan.Sequence, ["ep"] = Plan.Expert, ["tp"] = Plan.Tensor,
                ["micro_batches"] = Plan.MicroBatches, ["devices"] = Plan.DeviceCount,
            },
            ["layers_per_stage"] = new JsonArray(LayerSplit.Select(n => (JsonNode)n).ToArray()),
            ["device_memory_bytes"] = DeviceMemory,
            ["devices"] = devices,
            ["largest_device_bytes"] = LargestDevice.TotalBytes,
            ["fits"] = Fits,
        };
    }
}
