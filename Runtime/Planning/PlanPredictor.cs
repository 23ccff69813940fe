using Tessera.Parallelism;

namespace Tessera.Planning;

/// <summary>
/// Predicts a plan's memory and speed from the cost model (<see cref="ModelCost"/>) and a device's published figures:
/// each stage's time is a roofline, max(FLOPs / sustained FLOP/s, bytes read / sustained bandwidth) (their sum on a
/// device that does not overlap them, a CPU), plus its
/// collectives (α + β: a latency per message and bytes over the link its group spans), and a GPipe forward takes
/// (m + p - 1) stage times. Deliberately simple: it ranks plans and gets their order of magnitude; it does not model
/// kernels' shapes, overlap of communication with compute, or scheduler effects (checked against CPU measurements:
/// see the advisor benchmark).
/// </summary>
public sealed class PlanPredictor(ModelFacts facts, Cluster cluster, Workload workload)
{
    /// <summary>Share of peak FLOP/s large matrix products sustain.</summary>
    public const double ComputeEfficiency = 0.6;

    /// <summary>Share of peak memory bandwidth a weight-streaming decode sustains.</summary>
    public const double BandwidthEfficiency = 0.85;

    /// <summary>Share of a link's bandwidth collectives sustain.</summary>
    public const double LinkEfficiency = 0.8;

    /// <summary>Bytes per activation value on the wire and in attention (half precision).</summary>
    private const double ActivationBytes = 2;

    private readonly ModelCost _cost = facts.Cost;

    public ModelFacts Facts { get; } = facts;

    public Cluster Cluster { get; } = cluster;

    public Workload Workload { get; } = workload;

    /// <summary>The prediction for <paramref name="plan"/> (valid for the model: <see cref="ParallelPlan.Validate"/> found nothing).</summary>
    public PlanPrediction Predict(ParallelPlan plan)
    {
        var split = plan.ResolveSplit(Facts);
        var memory = MemoryEstimate.Of(Facts, plan, Workload.Weights, Workload.KvCache, Workload.Batch, Math.Min(Workload.Context, Facts.ContextLength));
        var largest = memory.LargestDevice;
        bool fits = largest.TotalBytes <= Cluster.UsableMemoryBytes;
        int maxBatch = MaxBatch(plan);
        double ttft = Prefill(plan, split, Workload.Batch);
        var (tpot, communication) = Decode(plan, split, Workload.Batch);
        double throughput = 0;
        if (maxBatch > 0)
        {
            double prefill = Prefill(plan, split, maxBatch), step = Decode(plan, split, maxBatch).Seconds;
            throughput = (double)maxBatch * Workload.Output / (prefill + Math.Max(0, Workload.Output - 1) * step);
        }
        var links = new Dictionary<string, string>();
        foreach (var (axis, degree) in new[] { ("tp", plan.Tensor), ("ep", plan.Expert), ("sp", plan.Sequence), ("pp", plan.Pipeline), ("dp", plan.Data) })
            if (degree > 1) links[axis] = axis == "dp" ? "none (replicas do not talk)" : LinkOf(plan, axis).Name;
        double bubble = plan.Pipeline == 1 ? 0 : (plan.Pipeline - 1.0) / (plan.MicroBatches + plan.Pipeline - 1);
        return new PlanPrediction(plan, largest.TotalBytes, fits, ttft, tpot, maxBatch, throughput, bubble, CommunicationBytesPerToken(plan, split),
            tpot > 0 ? communication / tpot : 0, memory.Devices.Max(d => d.WeightBytes), links);
    }

    /// <summary>The most requests of the workload's context that fit every device at once (0 when not even one).</summary>
    public int MaxBatch(ParallelPlan plan)
    {
        int context = Math.Min(Workload.Context, Facts.ContextLength);
        bool Fits(int batch) => MemoryEstimate.Of(Facts, plan, Workload.Weights, Workload.KvCache, batch, context).LargestDevice.TotalBytes <= Cluster.UsableMemoryBytes;
        if (!Fits(1)) return 0;
        int low = 1, high = 2;
        while (high < 1 << 24 && Fits(high)) (low, high) = (high, high * 2);
        while (high - low > 1)
        {
            int mid = low + (high - low) / 2;
            if (Fits(mid)) low = mid; else high = mid;
        }
        return low;
    }

    /// <summary>Seconds of the prefill of <paramref name="batch"/> prompts.</summary>
    private double Prefill(ParallelPlan plan, int[] split, int batch)
    {
        var (sequences, m) = PerMicroBatch(plan, batch);
        double rows = sequences * Math.Ceiling((double)Workload.Prompt / plan.Sequence);
        var ranges = StagePartitioner.LayerRanges(split);
        double stage = ranges.Select((range, j) => StageSeconds(plan, range, j == 0, j == split.Length - 1, rows, sequences, sequences * Workload.Prompt, Workload.Prompt / 2.0, logitRows: sequences).Total).Max();
        return (m + plan.Pipeline - 1) * stage;
    }

    /// <summary>Seconds of one decode step of <paramref name="batch"/> sequences, and the part of it spent communicating.</summary>
    private (double Seconds, double Communication) Decode(ParallelPlan plan, int[] split, int batch)
    {
        var (sequences, m) = PerMicroBatch(plan, batch);
        double rows = Math.Max(1, sequences / plan.Sequence);
        double context = Workload.Prompt + Workload.Output / 2.0;
        var stages = StagePartitioner.LayerRanges(split).Select((range, j) => StageSeconds(plan, range, j == 0, j == split.Length - 1, rows, sequences, sequences, context, logitRows: sequences)).ToList();
        var slowest = stages.MaxBy(s => s.Total);
        return ((m + plan.Pipeline - 1) * slowest.Total, (m + plan.Pipeline - 1) * slowest.Communication);
    }

    /// <summary>Sequences a device runs attention for in one micro-batch, and the micro-batches.</summary>
    private static (double Sequences, int MicroBatches) PerMicroBatch(ParallelPlan plan, int batch)
    {
        double perExpertRank = Math.Ceiling(Math.Ceiling((double)batch / plan.Data) / plan.Expert);
        int m = (int)Math.Max(1, Math.Min(plan.MicroBatches, perExpertRank));
        return (Math.Ceiling(perExpertRank / m), m);
    }

    /// <summary>
    /// One stage's step on one device: <paramref name="rows"/> token rows through its layers, and attention of the
    /// micro-batch's <paramref name="queries"/> over this device's 1/sp of <paramref name="context"/> positions of each of
    /// its <paramref name="sequences"/>, as a roofline, plus its collectives.
    /// </summary>
    private (double Total, double Communication) StageSeconds(ParallelPlan plan, (int First, int End) range, bool first, bool last, double rows, double sequences,
        double queries, double context, double logitRows)
    {
        int tp = plan.Tensor, layers = range.End - range.First;
        double queryWidth = _cost.ActivationWidth;
        double tokensAcrossExpertRanks = rows * plan.Expert;
        // Work: the layers' products (k experts per token), attention over this device's share of the cache, the head.
        double flops = rows * _cost.LayerFlopsOf(range.First, range.End) / tp + queries * layers * 4 * queryWidth * context / tp / plan.Sequence;
        if (last) flops += logitRows * _cost.HeadFlopsPerToken / tp;
        // Bytes: the dense weights once, the experts this step's tokens touch, the cache each query reads.
        double expertParameters = _cost.LayerExpertParametersOf(range.First, range.End);
        double touched = _cost.Experts == 0 ? 1 : 1 - Math.Pow(1 - (double)_cost.ExpertsPerToken / _cost.Experts, tokensAcrossExpertRanks);
        double weightParameters = _cost.DeviceParameters(range.First, range.End, first, last, tp, plan.Expert) - (1 - touched) * expertParameters / plan.Expert / tp;
        double bytes = weightParameters * MemoryEstimate.BytesOf(Workload.Weights)
                       + sequences * context / plan.Sequence * layers * _cost.KvValuesPerTokenPerLayer / _cost.KvShare(tp) * MemoryEstimate.BytesOf(Workload.KvCache);
        double arithmetic = flops / (Cluster.Device.FlopsFor(Workload.Weights) * ComputeEfficiency);
        double streaming = bytes / (Cluster.Device.BandwidthBytesPerSecond * BandwidthEfficiency);
        double compute = Cluster.Device.OverlapsComputeAndMemory ? Math.Max(arithmetic, streaming) : arithmetic + streaming;

        // Communication, per layer: two all-reduces (tp), two all-to-alls (ep), queries out and partials back (sp).
        double message = rows * _cost.ActivationWidth * ActivationBytes, communication = 0;
        if (tp > 1) communication += layers * 2 * Ring(LinkOf(plan, "tp"), tp, message);
        if (plan.Expert > 1) communication += layers * 2 * AllToAll(LinkOf(plan, "ep"), plan.Expert, message * _cost.ExpertsPerToken);
        if (plan.Sequence > 1) communication += layers * 2 * AllToAll(LinkOf(plan, "sp"), plan.Sequence, rows * queryWidth / tp * ActivationBytes * plan.Sequence);
        if (!last) communication += Send(LinkOf(plan, "pp"), message);
        return (compute + communication, communication);
    }

    /// <summary>A ring all-reduce of <paramref name="bytes"/>: 2 (n - 1) steps, 2 (n - 1) / n of the data over the link.</summary>
    private static double Ring(LinkSpec link, int n, double bytes) =>
        2.0 * (n - 1) * link.LatencySeconds + 2.0 * (n - 1) / n * bytes / (link.BandwidthBytesPerSecond * LinkEfficiency);

    /// <summary>An all-to-all where each device sends (n - 1) / n of <paramref name="bytes"/> to the others.</summary>
    private static double AllToAll(LinkSpec link, int n, double bytes) =>
        (n - 1) * link.LatencySeconds + (n - 1.0) / n * bytes / (link.BandwidthBytesPerSecond * LinkEfficiency);

    private static double Send(LinkSpec link, double bytes) => link.LatencySeconds + bytes / (link.BandwidthBytesPerSecond * LinkEfficiency);

    /// <summary>
    /// The link a parallel axis's groups use: the device's intra-node link when the group's ranks lie in one node (rank
    /// layout: tensor fastest, then expert, sequence, stage, replica), else the inter-node link.
    /// </summary>
    public LinkSpec LinkOf(ParallelPlan plan, string axis)
    {
        long span = axis switch
        {
            "tp" => plan.Tensor,
            "ep" => (long)plan.Tensor * plan.Expert,
            "sp" => (long)plan.Tensor * plan.Expert * plan.Sequence,
            "pp" => (long)plan.Tensor * plan.Expert * plan.Sequence * plan.Pipeline,
            _ => plan.DeviceCount,
        };
        return span <= Cluster.DevicesPerNode ? Cluster.Device.IntraNodeLink : Cluster.Device.InterNodeLink;
    }

    /// <summary>Bytes a device of the busiest stage sends per decoded token.</summary>
    private double CommunicationBytesPerToken(ParallelPlan plan, int[] split)
    {
        int layers = split.Max();
        double message = _cost.ActivationWidth * ActivationBytes, bytes = 0;
        if (plan.Tensor > 1) bytes += layers * 2 * 2.0 * (plan.Tensor - 1) / plan.Tensor * message;
        if (plan.Expert > 1) bytes += layers * 2 * (plan.Expert - 1.0) / plan.Expert * message * _cost.ExpertsPerToken;
        if (plan.Sequence > 1) bytes += layers * 2 * (plan.Sequence - 1.0) * message / plan.Tensor;
        if (plan.Pipeline > 1) bytes += message;
        return bytes;
    }
}
