using System.Globalization;

namespace Tessera.Parallelism;

/// <summary>
/// How one model is spread over devices: <see cref="Data"/> replicas x <see cref="Pipeline"/> stages x
/// <see cref="Sequence"/> sequence ranks x <see cref="Expert"/> expert ranks x <see cref="Tensor"/> shards, the batch cut
/// into <see cref="MicroBatches"/> for the pipeline.
/// </summary>
/// <param name="Data">D, data-parallel replicas (each holds the whole model, serves its share of the sequences)</param>
/// <param name="Pipeline">P, pipeline stages (contiguous blocks of layers; P = 1 means no pipeline)</param>
/// <param name="Tensor">T, tensor-parallel degree (the matrices of every layer split T ways)</param>
/// <param name="MicroBatches">m, micro-batches per replica and forward (GPipe); with m = 1 a pipeline is layer-wise model parallelism</param>
/// <param name="LayersPerStage">a hand-given split (one entry per stage, e.g. [3, 1]); null: balanced by <see cref="StagePartitioner"/></param>
/// <param name="DeviceMemoryBytes">each device's memory, checked against its weights plus one full-context KV cache; null: unchecked</param>
/// <param name="Expert">
/// E, expert-parallel degree: the experts of every mixture-of-experts layer split E ways (each expert rank holds 1/E of
/// them, each expert tensor-parallel over T), the dense parts data-parallel over the expert ranks (each runs attention
/// for its own sequences), tokens sent to their experts' owners and back with all-to-alls
/// </param>
/// <param name="Sequence">
/// S, sequence-parallel degree: each sequence's new tokens split over S ranks (zig-zag blocks of a prompt, so causal
/// work is even; single tokens round-robin), every token-wise layer on each rank's own tokens, attention exact over
/// all positions from partial results merged by log-sum-exp; each rank keeps the keys and values of its own tokens, so
/// a device holds ~1/S of every sequence's KV cache
/// </param>
public sealed record ParallelPlan(
    int Data = 1, int Pipeline = 1, int Tensor = 1, int MicroBatches = 1, int[]? LayersPerStage = null, long? DeviceMemoryBytes = null, int Expert = 1,
    int Sequence = 1)
{
    /// <summary>
    /// The most devices a plan may have (D * P * S * E * T). Each device of a plan is a rank with its own thread, weights
    /// and caches, whether in one process or under MPI; 1,024 is past any single node's accelerators (and past 128 CPU
    /// cores eight times over), and bounds what a typo such as --dp 65536 may allocate before anything is checked.
    /// </summary>
    public const int MaxDevices = 1024;

    /// <summary>
    /// The most micro-batches a plan may cut a replica's batch into. Each is at least one sequence, and a server keeps
    /// at most a few hundred in flight; the schedule holds P x (m + P - 1) clocks, so m is bounded before it is built.
    /// </summary>
    public const int MaxMicroBatches = 1024;

    /// <summary>D * P * S * E * T (valid plans only: see <see cref="MaxDevices"/>).</summary>
    public int DeviceCount => Data * Pipeline * Sequence * Expert * Tensor;

    /// <summary>
    /// The global rank of a coordinate (as TensorRT-LLM's Mapping, the sequence and expert axes between stage and
    /// tensor): data * (P * S * E * T) + stage * (S * E * T) + sequence * (E * T) + expert * T + tensor.
    /// </summary>
    public int RankOf(int data, int stage, int sequence, int expert, int tensor) => (((data * Pipeline + stage) * Sequence + sequence) * Expert + expert) * Tensor + tensor;

    /// <summary>The coordinate of a global rank: the inverse of <see cref="RankOf"/>.</summary>
    public (int Data, int Stage, int Sequence, int Expert, int Tensor) CoordinatesOf(int rank) =>
        (rank / (Tensor * Expert * Sequence * Pipeline), rank / (Tensor * Expert * Sequence) % Pipeline, rank / (Tensor * Expert) % Sequence, rank / Tensor % Expert, rank % Tensor);

    /// <summary>
    /// How every rank holds its matrix weights: as the checkpoint stores them (F32 for a Hugging Face folder, the
    /// file's block types for a quantized GGUF file), or F32, BF16 (half the bytes decode reads), Q8_0, Q4_0.
    /// </summary>
    public Cpu.WeightPrecision Precision { get; init; } = Cpu.WeightPrecision.Stored;

    /// <summary>Parses a device memory size ("80GB", "512MiB", "1.5GB"); see <see cref="ByteSize.Parse"/>.</summary>
    public static long ParseMemory(string text) => ByteSize.Parse(text);

    /// <summary>This plan with a device memory budget given as text ("80GB").</summary>
    public ParallelPlan WithMemory(string text) => this with { DeviceMemoryBytes = ParseMemory(text) };

    /// <summary>
    /// Every reason this plan cannot run the model (empty when it can). It is the one check of a plan's degrees, made
    /// before anything is sized from them (a schedule, a device list, threads, an estimate): every loader and estimator
    /// calls it first (<see cref="ThrowIfInvalid"/>).
    /// </summary>
    public IReadOnlyList<string> Validate(ModelFacts facts)
    {
        var problems = new List<string>();
        // As doubles: five degrees of up to 2^31 - 1 overflow a long, let alone the int the plan counts devices in.
        double devices = (double)Data * Pipeline * Sequence * Expert * Tensor;
        if (Data >= 1 && Pipeline >= 1 && Sequence >= 1 && Expert >= 1 && Tensor >= 1 && devices > MaxDevices)
            problems.Add($"the plan has {devices:0} devices (dp {Data} x pp {Pipeline} x sp {Sequence} x ep {Expert} x tp {Tensor}); at most {MaxDevices} are supported.");
        if (MicroBatches > MaxMicroBatches)
            problems.Add($"{MicroBatches} micro-batches are more than the {MaxMicroBatches} a plan may have (each needs at least one sequence).");
        if (Data < 1) problems.Add($"the data-parallel degree must be at least 1 (dp = {Data}).");
        if (Pipeline < 1) problems.Add($"the pipeline degree must be at least 1 (pp = {Pipeline}).");
        if (Tensor < 1) problems.Add($"the tensor-parallel degree must be at least 1 (tp = {Tensor}).");
        if (Sequence < 1) problems.Add($"the sequence-parallel degree must be at least 1 (sp = {Sequence}).");
        if (Expert < 1) problems.Add($"the expert-parallel degree must be at least 1 (ep = {Expert}).");
        else if (Expert > 1 && facts.Experts == 0)
            problems.Add($"ep = {Expert} but {facts.ModelName} has no experts: expert parallelism splits the experts of mixture-of-experts layers (use dp, pp or tp).");
        else if (facts.Experts > 0 && facts.Experts % Expert != 0)
            problems.Add($"ep = {Expert} does not divide the {facts.Experts} experts of {facts.ModelName}; degrees that work: {string.Join(", ", WorkingExpertDegrees(facts))}.");
        if (MicroBatches < 1) problems.Add($"micro-batches must be at least 1 (got {MicroBatches}).");
        if (Pipeline > facts.Layers)
            problems.Add($"pp = {Pipeline} stages but {facts.ModelName} has {facts.Layers} layers: every stage needs at least one layer, so at most pp = {facts.Layers}.");
        if (Tensor >= 1)
        {
            var bad = facts.TensorSplits.Where(s => s.Size % Tensor != 0).ToList();
            var badHeads = facts.Replicable.Where(s => !PlanArithmetic.Works(s.Size, Tensor)).ToList();
            if (bad.Count > 0 || badHeads.Count > 0)
            {
                var reasons = new List<string>();
                if (bad.Count > 0) reasons.Add($"does not divide {string.Join(", ", bad.Select(s => $"{s.What} = {s.Size}"))}");
                if (badHeads.Count > 0)
                    reasons.Add($"neither divides nor is a multiple of {string.Join(", ", badHeads.Select(s => $"{s.What} = {s.Size}"))} (past them, each rank holds the one key/value head its query heads read)");
                problems.Add($"tp = {Tensor} {string.Join(" and ", reasons)}; degrees that work: {string.Join(", ", WorkingTensorDegrees(facts))}.");
            }
        }
        bool splitOk = ValidateSplit(facts, problems);
        if (DeviceMemoryBytes is long budget)
        {
            if (budget <= 0) problems.Add($"the device memory must be positive (got {budget} bytes).");
            else if (problems.Count == 0 && (splitOk || LayersPerStage is null)) CheckMemory(facts, budget, problems);
        }
        return problems;
    }

    /// <summary>Throws a <see cref="PlanException"/> naming every problem <see cref="Validate"/> finds.</summary>
    public void ThrowIfInvalid(ModelFacts facts)
    {
        var problems = Validate(facts);
        if (problems.Count > 0) throw new PlanException(problems);
    }

    /// <summary>The tensor degrees that divide every split size (the common divisors), ascending.</summary>
    public static IReadOnlyList<int> WorkingTensorDegrees(ModelFacts facts) =>
        PlanArithmetic.WorkingTensorDegrees(facts.TensorSplits.Select(s => s.Size), facts.Replicable.Select(s => s.Size));

    /// <summary>The expert degrees that divide the experts, ascending (1 alone for a model without experts).</summary>
    public static IReadOnlyList<int> WorkingExpertDegrees(ModelFacts facts) =>
        facts.Experts == 0 ? [1] : Enumerable.Range(1, facts.Experts).Where(d => facts.Experts % d == 0).ToArray();

    /// <summary>The layer split this plan runs with: the hand-given one, or the balanced one.</summary>
    public int[] ResolveSplit(ModelFacts facts) => LayersPerStage?.ToArray() ?? StagePartitioner.Balance(facts, Pipeline);

    /// <summary>
    /// Bytes of the device of each stage, by the cost model (<see cref="Planning.ModelCost"/>): its layers (1/ep of
    /// the experts) plus the embeddings on the first stage and the head on the last, the tensor-split parts 1/tp and the
    /// rest whole, at <paramref name="bytesPerWeight"/>; plus the KV cache of one full-context sequence for its layers,
    /// split by tp up to the KV heads (replicated past them) and by sp.
    /// </summary>
    public static (long Weights, long KvCache)[] BytesPerStageDevice(ModelFacts facts, int[] split, int tensor, int expert = 1, int sequence = 1, double bytesPerWeight = 4)
    {
        var cost = facts.Cost;
        var result = new (long, long)[split.Length];
        var ranges = StagePartitioner.LayerRanges(split);
        for (int j = 0; j < split.Length; j++)
            result[j] = ((long)(cost.DeviceParameters(ranges[j].First, ranges[j].End, j == 0, j == split.Length - 1, tensor, expert) * bytesPerWeight),
                         (long)cost.DeviceKvBytes(split[j], facts.ContextLength, tensor, sequence, sizeof(float)));
        return result;
    }

    private bool ValidateSplit(ModelFacts facts, List<string> problems)
    {
        if (LayersPerStage is not int[] split) return true;
        // Every layer exactly once, in order: two well-known engines shipped splits that silently dropped a layer and
        // still produced plausible text, so a split that does not add up is an error, never "fixed up".
        string text = "[" + string.Join(", ", split) + "]";
        bool ok = true;
        if (Pipeline >= 1 && split.Length != Pipeline)
        {
            problems.Add($"the layer split {text} has {split.Length} entries but pp = {Pipeline}: give one entry per stage.");
            ok = false;
        }
        var empty = Enumerable.Range(0, split.Length).Where(j => split[j] < 1).ToList();
        if (empty.Count > 0)
        {
            problems.Add($"the layer split {text} gives {string.Join(", ", empty.Select(j => $"stage {j} {split[j]} layers"))}: every stage needs at least one layer.");
            ok = false;
        }
        long sum = split.Sum(x => (long)x);
        if (sum != facts.Layers)
        {
            problems.Add($"the layer split {text} covers {sum} layers but {facts.ModelName} has {facts.Layers}: the split must place every layer exactly once, in order.");
            ok = false;
        }
        return ok;
    }

    private void CheckMemory(ModelFacts facts, long budget, List<string> problems)
    {
        var split = ResolveSplit(facts);
        var perStage = BytesPerStageDevice(facts, split, Tensor, Expert, Sequence, Precision == Cpu.WeightPrecision.BF16 ? 2 : 4);
        int worst = 0;
        for (int j = 1; j < perStage.Length; j++)
            if (perStage[j].Weights + perStage[j].KvCache > perStage[worst].Weights + perStage[worst].KvCache) worst = j;
        var (weights, kv) = perStage[worst];
        if (weights + kv <= budget) return;
        int first = split.Take(worst).Sum();
        string extras = (worst == 0 ? ", embeddings" : "") + (worst == split.Length - 1 ? ", head" : "");
        string where = Pipeline > 1 ? $"stage {worst}: layers {first}-{first + split[worst] - 1}{extras}" : $"all {facts.Layers} layers{extras}";
        problems.Add(
            $"a device needs {ByteSize.Format(weights + kv)} but has {ByteSize.Format(budget)}: the largest device ({where}" +
            (Expert > 1 ? $", 1/{Expert} of the experts" : "") + (Tensor > 1 ? $", 1/{Tensor} of it" : "") + $") holds {ByteSize.Format(weights)} of weights + {ByteSize.Format(kv)} of KV cache " +
            $"for one {facts.ContextLength}-token sequence. Use more stages, a larger tensor{(facts.Experts > 0 ? " or expert" : "")} degree, or a device with more memory.");
    }

    /// <summary>"dp2 x pp2 x sp2 x tp2 (16 devices), 4 micro-batches, layers [3, 1], 80 GB per device".</summary>
    public override string ToString()
    {
        var parts = new List<string>();
        if (Data != 1) parts.Add($"dp{Data}");
        if (Pipeline != 1) parts.Add($"pp{Pipeline}");
        if (Sequence != 1) parts.Add($"sp{Sequence}");
        if (Expert != 1) parts.Add($"ep{Expert}");
        if (Tensor != 1) parts.Add($"tp{Tensor}");
        string text = (parts.Count == 0 ? "single device" : string.Join(" x ", parts)) +
                      $" ({DeviceCount.ToString(CultureInfo.InvariantCulture)} device{(DeviceCount == 1 ? "" : "s")}), {MicroBatches} micro-batch{(MicroBatches == 1 ? "" : "es")}";
        if (LayersPerStage is not null) text += $", layers [{string.Join(", ", LayersPerStage)}]";
        if (DeviceMemoryBytes is long m) text += $", {ByteSize.Format(m)} per device";
        return text;
    }
}
