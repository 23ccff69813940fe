using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Tessera.Parallelism;

public sealed partial class ParallelEngine
{
    /// <summary>
    /// The plan summary as text: the device map (device -> data/stage/tensor rank, layers, embeddings/head), memory per
    /// device, communication per token (measured bytes so far, plus the per-token estimate), and the predicted bubble
    /// next to the one measured in the last forward.
    /// </summary>
    public string Report()
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(inv, $"{Facts.ModelName} on {Plan}");
        sb.AppendLine(inv, $"layers per stage: [{string.Join(", ", LayerSplit)}] ({(SplitWasBalanced ? "balanced by the cost model" : "given by hand")}), {Facts.Layers} layers");
        sb.AppendLine();

        bool experts = Facts.Experts > 0;
        bool sequence = Plan.Sequence > 1;
        var header = new List<string> { "device", "data", "stage" };
        if (sequence) header.Add("sequence");
        if (experts) header.Add("experts");
        header.AddRange(["tensor", "layers", "also holds", "weights", "KV cache", "activations", "sent"]);
        var rows = new List<string[]> { header.ToArray() };
        foreach (var rank in _ranks)
        {
            var c = rank.Context;
            var extras = new List<string>();
            if (c.IsFirstStage) extras.Add("embeddings");
            if (c.IsLastStage) extras.Add(Plan.Tensor > 1 ? $"head (vocab 1/{Plan.Tensor})" : "head");
            var row = new List<string> { rank.Device.Name, c.DataRank.ToString(inv), c.Stage.ToString(inv) };
            if (sequence) row.Add($"{c.SequenceRank}/{c.SequenceDegree}");
            if (experts)
            {
                int each = Facts.Experts / c.ExpertDegree, first = c.ExpertRank * each;
                row.Add(each == 1 ? $"{first}" : $"{first}-{first + each - 1}");
            }
            row.AddRange([
                $"{c.TensorRank}/{c.TensorDegree}",
                c.EndLayer - c.FirstLayer == 1 ? $"{c.FirstLayer}" : $"{c.FirstLayer}-{c.EndLayer - 1}",
                extras.Count == 0 ? "-" : string.Join(", ", extras),
                ByteSize.Format(rank.Device.Memory.Weights), ByteSize.Format(rank.Device.Memory.KvCache),
                ByteSize.Format(rank.Device.Memory.Activations), ByteSize.Format(BytesSent(rank.Index)),
            ]);
            rows.Add(row.ToArray());
        }
        AppendTable(sb, rows);
        string ofBudget = Plan.DeviceMemoryBytes is long budget ? $" of {ByteSize.Format(budget)}" : "";
        sb.AppendLine(inv, $"total weights {ByteSize.Format(WeightBytes)} on {_devices.Length} device(s); largest device {ByteSize.Format(_devices.Max(d => d.Memory.Total))}{ofBudget}");
        sb.AppendLine();

        sb.AppendLine("communication per token (estimate):");
        long activation = (long)Facts.ActivationWidth * sizeof(float);
        if (Plan.Pipeline > 1)
            sb.AppendLine(inv, $"  stage boundaries: {Plan.Pipeline - 1} x {ByteSize.Format(activation)} (width {Facts.ActivationWidth} x 4 B) per tensor rank = {ByteSize.Format((Plan.Pipeline - 1) * activation * Plan.Tensor)} per replica");
        if (Plan.Tensor > 1)
        {
            // Megatron: one all-reduce after the attention output and one after the MLP down projection in every layer;
            // a ring all-reduce sends 2 (T - 1) / T of the buffer per device.
            double ring = 2.0 * (Plan.Tensor - 1) / Plan.Tensor;
            double perDevice = Facts.Layers / (double)Plan.Pipeline * 2 * ring * activation;
            double gather = (Plan.Tensor - 1.0) / Plan.Tensor * Facts.VocabSize * sizeof(float);
            sb.AppendLine(inv, $"  tensor all-reduce: 2 per layer x {ring:0.##} x {ByteSize.Format(activation)} = about {ByteSize.Format((long)perDevice)} per device of a stage (ring)");
            sb.AppendLine(inv, $"  head all-gather: about {ByteSize.Format((long)gather)} per logit row per last-stage device");
        }
        if (Plan.Expert > 1)
        {
            // Each token goes to k experts; a chosen expert on another expert rank costs its row there and back. With
            // experts spread evenly, (E - 1) / E of the choices leave the rank.
            double away = (Plan.Expert - 1.0) / Plan.Expert;
            double perLayer = 2 * Facts.ExpertsPerToken * away * activation;
            sb.AppendLine(inv, $"  expert all-to-all: 2 per layer (dispatch, combine) x {Facts.ExpertsPerToken} experts x {away:0.##} away x {ByteSize.Format(activation)} = about {ByteSize.Format((long)perLayer)} per token per layer");
        }
        if (Plan.Sequence > 1)
        {
            // Each token's query (its rank's heads) goes to the other sequence ranks, and each of them returns a partial
            // output with its log-sum-exp per head; keys and values stay where they were computed.
            long query = (long)Facts.ActivationWidth * sizeof(float) / Plan.Tensor;
            sb.AppendLine(inv, $"  sequence attention: per layer, each token's query to {Plan.Sequence - 1} other rank(s) and a partial result back, about {ByteSize.Format(2 * (Plan.Sequence - 1) * query)} per token per layer (keys and values do not move)");
        }
        if (Plan.Pipeline == 1 && Plan.Tensor == 1 && Plan.Expert == 1 && Plan.Sequence == 1) sb.AppendLine("  none: replicas do not talk during a forward");
        sb.AppendLine(inv, $"  measured so far: {ByteSize.Format(BytesSentPerDevice.Sum())} sent over all devices");
        sb.AppendLine();

        sb.AppendLine(inv, $"predicted bubble: (p - 1) / (m + p - 1) = ({Plan.Pipeline} - 1) / ({Plan.MicroBatches} + {Plan.Pipeline} - 1) = {Schedule.IdleFraction.ToString("P1", inv)} of the slots idle");
        if (LastTrace is { } trace)
            sb.AppendLine(inv, $"last forward: {trace.TotalIdleSlots} of {trace.TotalSlots} device slots idle ({trace.IdleFraction.ToString("P1", inv)}), {trace.Span.TotalMilliseconds:0.##} ms");
        sb.Append(Schedule.ToText());
        if (Facts.Experts > 0)
        {
            sb.AppendLine();
            sb.AppendLine();
            sb.Append(ExpertLoad.ToText(Plan.Expert));
        }
        return sb.ToString();
    }

    /// <summary>
    /// The plan summary as data: {"model", "plan", "layers_per_stage", "devices": [{"rank", "device", "data", "stage",
    /// "expert_rank", "tensor", "first_layer", "end_layer", "weight_bytes", "kv_cache_bytes", "activation_bytes",
    /// "total_bytes", "sent_bytes"}], "bubble": {"predicted", "measured"}, "expert_load"} (expert_load: null for a
    /// dense model, else <see cref="Experts.ExpertLoad.ToJson"/> of the routing so far).
    /// </summary>
    public JsonObject ReportJson()
    {
        var devices = new JsonArray();
        foreach (var rank in _ranks)
        {
            var c = rank.Context;
            var memory = rank.Device.Memory;
            devices.Add(new JsonObject
            {
                ["rank"] = rank.Index, ["device"] = rank.Device.Name, ["data"] = c.DataRank, ["stage"] = c.Stage,
                ["sequence_rank"] = c.SequenceRank, ["expert_rank"] = c.ExpertRank, ["tensor"] = c.TensorRank, ["first_layer"] = c.FirstLayer, ["end_layer"] = c.EndLayer,
                ["weight_bytes"] = memory.Weights, ["kv_cache_bytes"] = memory.KvCache, ["activation_bytes"] = memory.Activations,
                ["total_bytes"] = memory.Total, ["sent_bytes"] = BytesSent(rank.Index),
            });
        }
        return new JsonObject
        {
            ["model"] = Facts.ModelName,
            ["plan"] = new JsonObject
            {
                ["dp"] = Plan.Data, ["pp"] = Plan.Pipeline, ["sp"] = Plan.Sequence, ["ep"] = Plan.Expert, ["tp"] = Plan.Tensor, ["micro_batches"] = Plan.MicroBatches,
                ["devices"] = Plan.DeviceCount,
            },
            ["layers_per_stage"] = new JsonArray(LayerSplit.Select(n => (JsonNode)n).ToArray()),
            ["devices"] = devices,
            ["bubble"] = new JsonObject { ["predicted"] = Schedule.IdleFraction, ["measured"] = LastTrace?.IdleFraction },
            ["expert_load"] = Facts.Experts > 0 ? ExpertLoad.ToJson(Plan.Expert) : null,
        };
    }

    private static void AppendTable(StringBuilder sb, List<string[]> rows)
    {
        var widths = Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(r => r[c].Length)).ToArray();
        foreach (var row in rows)
            sb.AppendLine(string.Join("  ", row.Select((cell, c) => cell.PadRight(widths[c]))).TrimEnd());
    }
}
