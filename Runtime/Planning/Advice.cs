using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Tessera.Parallelism;

namespace Tessera.Planning;

/// <summary>
/// The strategy advisor: every valid plan of N devices (data x pipeline x sequence x expert x tensor, by the compiler's
/// own rules: divisibility, stages at most the layers, memory), each predicted by <see cref="PlanPredictor"/>, ranked
/// for a goal, the top ones explained.
/// </summary>
public sealed class Advice
{
    private Advice(ModelFacts facts, Cluster cluster, Workload workload, AdviceGoal goal, IReadOnlyList<RankedPlan> plans, int considered)
    {
        Facts = facts;
        Cluster = cluster;
        Workload = workload;
        Goal = goal;
        Plans = plans;
        Considered = considered;
    }

    public ModelFacts Facts { get; }

    public Cluster Cluster { get; }

    public Workload Workload { get; }

    public AdviceGoal Goal { get; }

    /// <summary>Best first: the plans that fit, ranked for the goal, then those that do not, smallest devices first.</summary>
    public IReadOnlyList<RankedPlan> Plans { get; }

    /// <summary>Plans enumerated (valid or not) before ranking.</summary>
    public int Considered { get; }

    /// <summary>True when at least one plan fits.</summary>
    public bool AnyFits => Plans.Count > 0 && Plans[0].Prediction.Fits;

    /// <param name="asked">plans to include whatever the enumeration finds (e.g. a deployment's current one), marked as asked for</param>
    public static Advice For(ModelFacts facts, Cluster cluster, Workload workload, AdviceGoal goal, IEnumerable<ParallelPlan>? asked = null)
    {
        ArgumentNullException.ThrowIfNull(facts);
        var predictor = new PlanPredictor(facts, cluster, workload);
        var askedPlans = (asked ?? []).ToList();
        foreach (var plan in askedPlans)
        {
            if (plan.DeviceCount != cluster.Devices)
                throw new PlanException($"the plan asked for, {plan}, has {plan.DeviceCount} devices but the cluster {cluster.Devices}.");
            plan.ThrowIfInvalid(facts);
        }

        int considered = 0;
        var best = new Dictionary<(int, int, int, int, int), PlanPrediction>();
        foreach (var plan in Enumerate(cluster.Devices, facts))
        {
            considered++;
            if (plan.Validate(facts).Count > 0) continue;
            var prediction = predictor.Predict(plan);
            var key = (plan.Data, plan.Pipeline, plan.Sequence, plan.Expert, plan.Tensor);
            // Of a shape's micro-batch counts, keep the one the goal prefers.
            if (!best.TryGetValue(key, out var kept) || Better(prediction, kept, goal, workload)) best[key] = prediction;
        }
        var predictions = best.Values.ToList();
        foreach (var plan in askedPlans)
            if (!predictions.Any(p => Same(p.Plan, plan))) predictions.Add(predictor.Predict(plan));

        var ranked = predictions.Where(p => p.Fits).OrderBy(p => p, Comparer<PlanPrediction>.Create((a, b) => Better(a, b, goal, workload) ? -1 : Better(b, a, goal, workload) ? 1 : 0))
            .Concat(predictions.Where(p => !p.Fits).OrderBy(p => p.BytesPerDevice))
            .ToList();
        var plans = ranked.Select((p, i) => new RankedPlan(p, askedPlans.Any(a => Same(a, p.Plan)), Explain(p, i, predictor, goal, workload))).ToList();
        return new Advice(facts, cluster, workload, goal, plans, considered);
    }

    private static bool Same(ParallelPlan a, ParallelPlan b) =>
        a.Data == b.Data && a.Pipeline == b.Pipeline && a.Sequence == b.Sequence && a.Expert == b.Expert && a.Tensor == b.Tensor && a.MicroBatches == b.MicroBatches;

    private static bool Better(PlanPrediction a, PlanPrediction b, AdviceGoal goal, Workload workload)
    {
        if (a.Fits != b.Fits) return a.Fits;
        return goal == AdviceGoal.Latency
            ? a.LatencySeconds(workload) < b.LatencySeconds(workload) * (1 - 1e-9) || (Math.Abs(a.LatencySeconds(workload) - b.LatencySeconds(workload)) <= 1e-12 && a.TokensPerSecond > b.TokensPerSecond)
            : a.TokensPerSecond > b.TokensPerSecond * (1 + 1e-9) || (Math.Abs(a.TokensPerSecond - b.TokensPerSecond) <= 1e-9 * Math.Max(1, a.TokensPerSecond) && a.LatencySeconds(workload) < b.LatencySeconds(workload));
    }

    /// <summary>Every dp x pp x sp x ep x tp = <paramref name="devices"/>, with micro-batch counts 1 (no pipeline) or p, 2p, 4p.</summary>
    public static IEnumerable<ParallelPlan> Enumerate(int devices, ModelFacts facts)
    {
        var divisors = Enumerable.Range(1, devices).Where(d => devices % d == 0).ToArray();
        foreach (int tp in divisors)
            foreach (int ep in divisors.Where(e => (devices / tp) % e == 0 && (e == 1 || facts.Experts % e == 0)))
                foreach (int sp in divisors.Where(s => (devices / tp / ep) % s == 0 && s <= 16))
                    foreach (int pp in divisors.Where(p => (devices / tp / ep / sp) % p == 0 && p <= facts.Layers))
                    {
                        int dp = devices / tp / ep / sp / pp;
                        foreach (int m in pp == 1 ? [1] : new[] { pp, 2 * pp, 4 * pp })
                            yield return new ParallelPlan(Data: dp, Pipeline: pp, Tensor: tp, MicroBatches: m, Expert: ep, Sequence: sp);
                    }
    }

    private static string Name(ParallelPlan plan)
    {
        var parts = new List<string>();
        if (plan.Data > 1) parts.Add($"DP{plan.Data}");
        if (plan.Pipeline > 1) parts.Add($"PP{plan.Pipeline}");
        if (plan.Sequence > 1) parts.Add($"SP{plan.Sequence}");
        if (plan.Expert > 1) parts.Add($"EP{plan.Expert}");
        if (plan.Tensor > 1) parts.Add($"TP{plan.Tensor}");
        string name = parts.Count == 0 ? "one device" : string.Join(" x ", parts);
        return plan.Pipeline > 1 ? $"{name} (m={plan.MicroBatches})" : name;
    }

    /// <summary>A sentence: what the plan does with the devices, and what decides its place.</summary>
    private static string Explain(PlanPrediction p, int position, PlanPredictor predictor, AdviceGoal goal, Workload workload)
    {
        var inv = CultureInfo.InvariantCulture;
        var plan = p.Plan;
        var facts = predictor.Facts;
        var what = new List<string>();
        if (plan.Tensor > 1) what.Add($"splits every layer {plan.Tensor} ways over {predictor.LinkOf(plan, "tp").Name}");
        if (plan.Expert > 1) what.Add($"gives each expert rank {facts.Experts / plan.Expert} of the {facts.Experts} experts (all-to-all over {predictor.LinkOf(plan, "ep").Name})");
        if (plan.Sequence > 1) what.Add($"splits each prompt over {plan.Sequence} devices ({predictor.LinkOf(plan, "sp").Name})");
        if (plan.Pipeline > 1) what.Add($"cuts the {facts.Layers} layers into {plan.Pipeline} stages ({predictor.LinkOf(plan, "pp").Name}, bubble {p.Bubble.ToString("P0", inv)})");
        if (plan.Data > 1) what.Add($"runs {plan.Data} independent replicas");
        if (what.Count == 0) what.Add("runs the whole model on one device");
        string holds = string.Create(inv, $"{ByteSize.Format(p.BytesPerDevice)} per device of {ByteSize.Format(predictor.Cluster.UsableMemoryBytes)} usable");
        if (!p.Fits)
            return string.Create(inv, $"{Name(plan)} {string.Join(", ", what)}; it does not fit: the largest device needs {holds}.");
        string why = goal == AdviceGoal.Latency
            ? string.Create(inv, $"a request takes {p.LatencySeconds(workload) * 1e3:0.#} ms ({p.TtftSeconds * 1e3:0.#} ms to the first token, {p.TpotSeconds * 1e3:0.##} ms per token after it")
              + (p.CommunicationShare > 0.05 ? string.Create(inv, $", {p.CommunicationShare:P0} of a step communicating)") : ")")
            : string.Create(inv, $"{p.MaxBatch} requests fit at once, for {p.TokensPerSecond:N0} output tokens/s");
        string rank = position == 0 ? (goal == AdviceGoal.Latency ? "Fastest: " : "Most throughput: ") : "";
        return string.Create(inv, $"{rank}{Name(plan)} {string.Join(", ", what)}; {holds}; {why}.");
    }

    /// <summary>The ranking as text: a table of the top plans (and every asked one), then the top explanations.</summary>
    public string ToText(int top = 10)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        var device = Cluster.Device;
        sb.AppendLine(inv, $"{Facts.ModelName} ({Facts.Parameters:N0} parameters) on {Cluster.Devices} x {device.Name} ({ByteSize.Format(device.MemoryBytes)}, {device.BandwidthBytesPerSecond / 1e12:0.##} TB/s, " +
                           $"{device.Bf16Flops / 1e12:0.#} dense TFLOPS), {Cluster.DevicesPerNode} per node ({device.IntraNodeLink.Name} inside, {device.InterNodeLink.Name} between)");
        sb.AppendLine(inv, $"workload: {Workload.Batch} request(s) of {Workload.Prompt} prompt + {Workload.Output} output tokens, weights {Workload.Weights}, KV cache {Workload.KvCache}; goal: {Goal.ToString().ToLowerInvariant()}");
        sb.AppendLine(inv, $"{Plans.Count} valid plans of {Considered} considered, {Plans.Count(p => p.Prediction.Fits)} fit");
        sb.AppendLine();
        if (!AnyFits)
        {
            var smallest = Plans.Count == 0 ? null : Plans.MinBy(p => p.Prediction.BytesPerDevice);
            string verdict = smallest is null
                ? $"no plan of {Cluster.Devices} devices is valid for {Facts.ModelName}."
                : $"no plan fits: the smallest per-device need is {ByteSize.Format(smallest.Prediction.BytesPerDevice)} ({Name(smallest.Plan)}) and a {device.Name} has {ByteSize.Format(Cluster.UsableMemoryBytes)} usable. " +
                  "More or larger devices, or fewer bytes per weight, are needed.";
            sb.AppendLine(verdict);
            return sb.ToString();
        }
        var shown = Plans.Take(top).Concat(Plans.Skip(top).Where(p => p.Asked)).ToList();
        var rows = new List<string[]> { new[] { "#", "plan", "bytes/device", "fits", "TTFT ms", "TPOT ms", "max batch", "tok/s @max", "bubble", "comm/token" } };
        foreach (var r in shown)
        {
            var p = r.Prediction;
            rows.Add([
                (Plans.ToList().IndexOf(r) + 1).ToString(inv), Name(r.Plan) + (r.Asked ? " *" : ""), ByteSize.Format(p.BytesPerDevice), p.Fits ? "yes" : "no",
                (p.TtftSeconds * 1e3).ToString("0.##", inv), (p.TpotSeconds * 1e3).ToString("0.###", inv), p.MaxBatch.ToString(inv), p.TokensPerSecond.ToString("N0", inv),
                p.Bubble.ToString("P0", inv), ByteSize.Format((long)p.CommunicationBytesPerToken),
            ]);
        }
        var widths = Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(r => r[c].Length)).ToArray();
        foreach (var row in rows) sb.AppendLine(string.Join("  ", row.Select((cell, c) => cell.PadRight(widths[c]))).TrimEnd());
        if (shown.Any(r => r.Asked)) sb.AppendLine("(* asked for)");
        sb.AppendLine();
        foreach (var r in Plans.Take(3).Concat(shown.Where(s => s.Asked && Plans.ToList().IndexOf(s) >= 3)))
            sb.AppendLine(inv, $"{Plans.ToList().IndexOf(r) + 1}. {r.Explanation}");
        return sb.ToString();
    }

    /// <summary>{"model", ..., "plans": [{"dp","tp","pp","ep","sp","micro_batches","bytes_per_device","fits","ttft_ms","tpot_ms","tokens_per_s", ...}]} best first.</summary>
    public JsonObject ToJson()
    {
        var plans = new JsonArray();
        foreach (var r in Plans)
        {
            var p = r.Prediction;
            plans.Add(new JsonObject
            {
                ["dp"] = r.Plan.Data, ["tp"] = r.Plan.Tensor, ["pp"] = r.Plan.Pipeline, ["ep"] = r.Plan.Expert, ["sp"] = r.Plan.Sequence,
                ["micro_batches"] = r.Plan.MicroBatches, ["bytes_per_device"] = p.BytesPerDevice, ["weight_bytes_per_device"] = p.WeightBytesPerDevice,
                ["fits"] = p.Fits, ["ttft_ms"] = p.TtftSeconds * 1e3, ["tpot_ms"] = p.TpotSeconds * 1e3, ["latency_ms"] = p.LatencySeconds(Workload) * 1e3,
                ["max_batch"] = p.MaxBatch, ["tokens_per_s"] = p.TokensPerSecond, ["bubble"] = p.Bubble,
                ["communication_bytes_per_token"] = p.CommunicationBytesPerToken, ["communication_share"] = p.CommunicationShare,
                ["links"] = new JsonObject(p.Links.Select(l => KeyValuePair.Create(l.Key, (JsonNode?)l.Value))),
                ["asked"] = r.Asked, ["explanation"] = r.Explanation,
            });
        }
        return new JsonObject
        {
            ["model"] = Facts.ModelName,
            ["parameters"] = Facts.Parameters,
            ["gpu"] = Cluster.Device.Name,
            ["gpus"] = Cluster.Devices,
            ["gpus_per_node"] = Cluster.DevicesPerNode,
            ["usable_bytes_per_gpu"] = Cluster.UsableMemoryBytes,
            ["goal"] = Goal.ToString().ToLowerInvariant(),
            ["workload"] = new JsonObject
            {
                ["batch"] = Workload.Batch, ["prompt"] = Workload.Prompt, ["output"] = Workload.Output,
                ["weights"] = Workload.Weights.ToString(), ["kv_cache"] = Workload.KvCache.ToString(),
            },
            ["catalogue_as_of"] = GpuCatalogue.AsOf,
            ["considered"] = Considered,
            ["plans"] = plans,
        };
    }

    /// <summary>
    /// A picture of the ranking: one row per plan (the top ones that fit, then the asked ones), with its bytes per device
    /// against the device's usable memory, its predicted tokens/s and its request latency, each as a bar.
    /// </summary>
    public string ToSvg(int top = 16)
    {
        var inv = CultureInfo.InvariantCulture;
        var shown = Plans.Where(p => p.Prediction.Fits).Take(top).Concat(Plans.Where(p => p.Asked && !Plans.Where(x => x.Prediction.Fits).Take(top).Contains(p))).ToList();
        if (shown.Count == 0) shown = Plans.Take(top).ToList();
        const int rowHeight = 26, labelWidth = 230, barWidth = 220, top0 = 70;
        int width = labelWidth + 3 * (barWidth + 30) + 20, height = top0 + shown.Count * rowHeight + 40;
        double memoryMax = Math.Max(Cluster.Device.MemoryBytes, shown.Max(p => p.Prediction.BytesPerDevice));
        double throughputMax = Math.Max(1, shown.Max(p => p.Prediction.TokensPerSecond));
        double latencyMax = Math.Max(1e-9, shown.Max(p => p.Prediction.LatencySeconds(Workload)));
        var sb = new StringBuilder();
        sb.AppendLine(inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">");
        sb.AppendLine(inv, $"<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>");
        sb.AppendLine(inv, $"<text x=\"10\" y=\"20\" font-size=\"15\" font-weight=\"bold\">{Escape(Facts.ModelName)} on {Cluster.Devices} x {Escape(Cluster.Device.Name)}: plans ranked for {Goal.ToString().ToLowerInvariant()}</text>");
        string[] headings = ["memory per device (line: usable memory)", "output tokens/s at the largest batch", $"request latency, batch {Workload.Batch} (ms)"];
        for (int c = 0; c < 3; c++)
            sb.AppendLine(inv, $"<text x=\"{labelWidth + c * (barWidth + 30)}\" y=\"{top0 - 12}\" fill=\"#333\">{Escape(headings[c])}</text>");
        for (int i = 0; i < shown.Count; i++)
        {
            var p = shown[i].Prediction;
            int y = top0 + i * rowHeight;
            string fill = p.Fits ? "#4e79a7" : "#e15759";
            sb.AppendLine(inv, $"<text x=\"10\" y=\"{y + 15}\">{Plans.ToList().IndexOf(shown[i]) + 1}. {Escape(Name(p.Plan))}{(shown[i].Asked ? " *" : "")}</text>");
            double[] values = [p.BytesPerDevice / memoryMax, p.TokensPerSecond / throughputMax, p.LatencySeconds(Workload) / latencyMax];
            string[] labels = [ByteSize.Format(p.BytesPerDevice), p.TokensPerSecond.ToString("N0", inv), (p.LatencySeconds(Workload) * 1e3).ToString("0.#", inv)];
            string[] colours = [fill, "#59a14f", "#f28e2b"];
            for (int c = 0; c < 3; c++)
            {
                int x = labelWidth + c * (barWidth + 30);
                sb.AppendLine(inv, $"<rect x=\"{x}\" y=\"{y + 4}\" width=\"{Math.Max(1, values[c] * barWidth):0.#}\" height=\"{rowHeight - 10}\" fill=\"{colours[c]}\"/>");
                sb.AppendLine(inv, $"<text x=\"{x + 4}\" y=\"{y + 16}\" fill=\"white\" font-size=\"11\">{Escape(labels[c])}</text>");
            }
        }
        double usable = (double)Cluster.UsableMemoryBytes / memoryMax * barWidth;
        sb.AppendLine(inv, $"<line x1=\"{labelWidth + usable:0.#}\" y1=\"{top0 - 4}\" x2=\"{labelWidth + usable:0.#}\" y2=\"{top0 + shown.Count * rowHeight}\" stroke=\"black\" stroke-dasharray=\"4 3\"/>");
        sb.AppendLine(inv, $"<text x=\"10\" y=\"{height - 14}\" fill=\"#555\">* asked for. Predicted by Tessera's cost model from published figures (catalogue of {Escape(GpuCatalogue.AsOf)}); red: does not fit.</text>");
        sb.AppendLine("</svg>");
        return sb.ToString();
    }

    private static string Escape(string text) => text.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");
}
