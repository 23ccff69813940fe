using System.CommandLine;
using Tessera.Checkpoints;
using Tessera.Parallelism;
using Tessera.Planning;

namespace Tessera.Models.Cli;

/// <summary>
/// <c>tessera advise</c>: which plan, on which GPUs, for this model? Every valid plan of N GPUs, predicted from the
/// config alone and the GPU catalogue, ranked for latency or throughput; plan flags add a plan of one's own.
/// </summary>
internal static class AdviseCommand
{
    public static Command Create(Option<string> checkpoint, PlanOptions plan)
    {
        var gpus = new Option<int>("--gpus") { Description = "How many GPUs", Required = true };
        var gpu = new Option<string>("--gpu") { Description = "Which GPU: B200, B100, H200, H100, A100-80GB, A100-40GB, L40S, L40, L4, V100-16GB (case-insensitive)", Required = true };
        var perNode = new Option<int>("--gpus-per-node") { Description = "GPUs per node: groups inside a node use its NVLink/PCIe, others the network (default 8)", DefaultValueFactory = _ => 8 };
        var goal = new Option<AdviceGoal>("--goal") { Description = "Rank for latency (a request's end-to-end time) or throughput (tokens/s at the largest batch that fits)", DefaultValueFactory = _ => AdviceGoal.Latency };
        var batch = new Option<int>("--batch") { Description = "Requests served at once (the latency question)", DefaultValueFactory = _ => 1 };
        var prompt = new Option<int>("--prompt") { Description = "Prompt tokens per request", DefaultValueFactory = _ => 512 };
        var output = new Option<int>("--output") { Description = "Generated tokens per request", DefaultValueFactory = _ => 128 };
        var weights = new Option<PlanDType>("--weights") { Description = "How weights are held: F32, BF16, F16, Q8_0, Q4_0 or Q4_K_M (a quantized model keeps its KV cache in BF16)", DefaultValueFactory = _ => PlanDType.BF16 };
        var kv = new Option<PlanDType?>("--kv-dtype") { Description = "How the KV cache is held (default: as the weights)" };
        var json = new Option<bool>("--json") { Description = "Print the ranking as JSON (every valid plan, best first)" };
        var svg = new Option<string?>("--svg") { Description = "Write the ranking as an SVG picture: memory per device, tokens/s, latency" };
        var top = new Option<int>("--top") { Description = "Plans shown in the text table", DefaultValueFactory = _ => 10 };
        var command = new Command("advise", "Rank every plan of N GPUs for a model (from its config.json alone) by predicted latency or throughput; add --dp/--pp/--tp/--ep/--sp to see a plan of your own among them.")
            { checkpoint, gpus, gpu, perNode, goal, batch, prompt, output, weights, kv, json, svg, top };
        foreach (var option in new Option[] { plan.Data, plan.Pipeline, plan.Sequence, plan.Tensor, plan.Expert, plan.MicroBatches }) command.Options.Add(option);
        command.SetAction(r => Program.Run(() =>
        {
            if (r.GetValue(svg) is { } svgPath) OutputFile.Check(svgPath);
            var facts = EngineCatalog.Facts(r.GetValue(checkpoint)!);
            int count = r.GetValue(gpus);
            if (count < 1) throw new FormatException($"--gpus {count}: at least one GPU.");
            int nodeSize = r.GetValue(perNode);
            if (nodeSize < 1) throw new FormatException($"--gpus-per-node {nodeSize}: at least one GPU.");
            var device = r.GetValue(gpu) is "cpu" ? CpuCalibration.Measure().AsDevice(count) : GpuCatalogue.Find(r.GetValue(gpu)!);
            var workload = new Workload(r.GetValue(batch), r.GetValue(prompt), r.GetValue(output), r.GetValue(weights), r.GetValue(kv) ?? (r.GetValue(weights).IsQuantized() ? PlanDType.BF16 : r.GetValue(weights)));
            if (workload.Batch < 1 || workload.Prompt < 1 || workload.Output < 1)
                throw new FormatException("--batch, --prompt and --output must be at least 1.");
            if (workload.Context > facts.ContextLength)
                throw new FormatException($"--prompt {workload.Prompt} + --output {workload.Output} exceed the model's context of {facts.ContextLength} positions.");
            var asked = new List<ParallelPlan>();
            var flags = new ParallelPlan(r.GetValue(plan.Data), r.GetValue(plan.Pipeline), r.GetValue(plan.Tensor), r.GetValue(plan.MicroBatches), Expert: r.GetValue(plan.Expert), Sequence: r.GetValue(plan.Sequence));
            if (flags != new ParallelPlan()) asked.Add(flags);
            var advice = Advice.For(facts, new Cluster(device, count, nodeSize), workload, r.GetValue(goal), asked);
            Console.WriteLine(r.GetValue(json) ? advice.ToJson().ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) : advice.ToText(r.GetValue(top)));
            if (r.GetValue(svg) is { } path) OutputFile.WriteText(path, advice.ToSvg());
            return 0;
        }));
        return command;
    }
}
