using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Tessera.Checkpoints;
using Tessera.Mpi;
using Tessera.Parallelism;

namespace Tessera.Models.Cli;

/// <summary>The <c>tessera</c> command line: logits and greedy generation from a checkpoint folder.</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (MpiWorld.IsLaunched)
        {
            // mpirun gives rank 0 a terminal for its stdin and stdout, and .NET's console would switch that terminal to
            // keypad mode with an escape sequence (terminfo's keypad_xmit) that lands in the job's output. No rank reads
            // keys: a terminal without capabilities keeps the output clean.
            Environment.SetEnvironmentVariable("TERM", "dumb");
        }

        var checkpoint = new Option<string>("--checkpoint", "-c")
        {
            Description = "Checkpoint folder (config.json + model.safetensors). Default: the bundled tiny-llama.",
            DefaultValueFactory = _ => EngineCatalog.Bundled("tiny-llama"),
        };
        var tokens = new Option<string[]>("--tokens", "-t")
        {
            Description = "Prompt token ids, comma-separated: 1,2,3. Repeat it for a batch of prompts, run in one forward",
            Required = true,
            AllowMultipleArgumentsPerToken = false,
        };
        var engine = new Option<EngineKind>("--engine") { Description = "generic (sizes from config.json) or specialised (a [Compile] unit)", DefaultValueFactory = _ => EngineKind.Generic };

        var plan = new PlanOptions();
        var output = new Option<string>("--out", "-o") { Description = "Where to write the logits (.safetensors, one F32 tensor 'logits' [tokens, vocab]; a batch's rows prompt after prompt)", Required = true };
        var logits = new Command("logits", "Compute the logits at every prompt position and write them as safetensors.") { checkpoint, tokens, engine, output };
        foreach (var option in plan.All) logits.Options.Add(option);
        logits.SetAction(r => Run(() => Logits(r.GetValue(checkpoint)!, r.GetValue(tokens)!, r.GetValue(engine), plan.Read(r), plan.Device(r), r.GetValue(output)!)));

        var generate = GenerateCommand.Create(checkpoint, engine, plan);
        var serve = ServeCommand.Create(checkpoint, engine, plan);

        var svg = new Option<string?>("--svg") { Description = "Write the pipeline schedule of a sample forward as an SVG timeline (devices as rows, clocks as columns)" };
        var json = new Option<bool>("--json") { Description = "Print the report as JSON (devices, memory, bubble, expert load) instead of text" };
        var dryRun = new Option<bool>("--dry-run") { Description = "Plan from config.json alone (no weights read, no devices started): parameters, weight and KV cache bytes, per-device memory" };
        var batch = new Option<int>("--batch") { Description = "Dry run: sequences held at once (their KV cache)", DefaultValueFactory = _ => 1 };
        var context = new Option<int?>("--context") { Description = "Dry run: positions per sequence (default: the model's context length)" };
        var kvDType = new Option<Tessera.Planning.PlanDType?>("--kv-dtype") { Description = "Dry run: how the KV cache is held, F32, BF16 or F16 (default: as the weights)" };
        var gpu = new Option<string?>("--gpu") { Description = "Dry run: check the plan fits this GPU's usable memory, 90 % of it as the advisor counts (a name of the catalogue: H100, A100-80GB, L4, ...)" };
        var planCommand = new Command("plan", "Load a plan and print its device map, per-device memory, communication per token, predicted bubble and, for a mixture of experts, the router's load; or, with --dry-run, its memory from config.json alone.")
            { checkpoint, svg, json, dryRun, batch, context, kvDType, gpu };
        foreach (var option in plan.All) planCommand.Options.Add(option);
        planCommand.SetAction(r => Run(() => r.GetValue(dryRun)
            ? PlanCommand.DryRun(r.GetValue(checkpoint)!, plan.Read(r, always: true, planning: true)!, r.GetValue(plan.Weights), r.GetValue(kvDType), r.GetValue(batch), r.GetValue(context),
                // A catalogue GPU: the memory a plan may use, as the advisor counts it (the rest: runtime and allocator).
                r.GetValue(gpu) is { } name ? new Tessera.Planning.Cluster(Tessera.Planning.GpuCatalogue.Find(name), 1, 1).UsableMemoryBytes : null, r.GetValue(json))
            : PlanCommand.Run(r.GetValue(checkpoint)!, plan.Read(r, always: true)!, r.GetValue(svg), r.GetValue(json))));

        var root = new RootCommand("tessera: a transformer compiler for C# — run compiled engines on Hugging Face checkpoints.") { logits, generate, serve, planCommand, AdviseCommand.Create(checkpoint, plan), TokenizeCommand.Create(), TokenizerTrainCommand.Create(), QuantizeCommand.Create(), TemplateCommand.Create() };
        StrictParsing.Apply(root);
        var parsed = root.Parse(args);
        try
        {
            if (MpiWorld.IsMultiProcess)
            {
                // Every process parses the same arguments: rank 0 speaks for the job, the others stay silent.
                if (MpiWorld.LaunchedRank != 0 && parsed.Errors.Count > 0) return 1;
                if (parsed.Errors.Count == 0 && parsed.CommandResult.Command is { } command && command != logits && command != generate && command != serve)
                    return Run(() => throw new PlanException($"Under mpirun only logits, generate and serve run (one process per rank of the plan): run `tessera {command.Name}` without mpirun."));
            }
            return parsed.Errors.Count > 0 ? StrictParsing.Refuse(parsed) : parsed.Invoke();
        }
        finally
        {
            if (MpiWorld.IsMultiProcess)
            {
                // A command that ends without disposing its engine must not leave the other ranks waiting for rank 0;
                // and every process ends in step, so that rank 0's error line is printed before mpirun stops the job.
                MpiEngine.ShutdownCurrent();
                MpiWorld.Close();
            }
        }
    }

    /// <summary>Parallel engines own device threads: dispose them when the command ends.</summary>
    private static IDisposable? Own(ITransformerEngine engine, out ITransformerEngine model)
    {
        model = engine;
        return engine as IDisposable;
    }

    /// <summary>Turns every expected failure into one line on stderr and exit code 1; nothing is written on failure.</summary>
    internal static int Run(Func<int> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (e is CheckpointException or ContextOverflowException or NonFiniteLogitsException or ArgumentException or FormatException or IOException or UnauthorizedAccessException
                                       or Tessera.Parallelism.PlanException or Tessera.Parallelism.RankFailedException or Tessera.Text.Templates.TemplateException)
        {
            // Under mpirun every process meets the same bad arguments or config before its rank starts: rank 0 says why.
            if (MpiWorld.IsLaunched && MpiWorld.LaunchedRank != 0) return 1;
            Console.Error.WriteLine($"error: {ErrorText.OneLine(e)}");
            return 1;
        }
    }

    private static int Logits(string directory, string[] tokenTexts, EngineKind kind, Tessera.Parallelism.ParallelPlan? plan, DeviceKind device, string output)
    {
        int[][] prompts = tokenTexts.Select(TokenList.Parse).ToArray();
        OutputFile.Check(output);
        using var owner = Own(EngineCatalog.Open(directory, kind, plan, device), out var model);
        var values = model.Forward(TokenBatch.ForSequences(prompts.Select(_ => model.CreateCache()).ToArray(), prompts));
        int rows = prompts.Sum(p => p.Length);
        NonFiniteLogitsException.ThrowIfAny(values, model.Shape.VocabSize);
        SafetensorsWriter.Write(output, [new SafetensorsWriter.Tensor("logits", [rows, model.Shape.VocabSize], Floats: values)]);
        Console.WriteLine($"wrote logits [{rows}, {model.Shape.VocabSize}] to {output} ({model.Shape.ModelName}, {kind} engine" +
                          (prompts.Length > 1 ? $", {prompts.Length} prompts in one batch)" : ")"));
        return 0;
    }
}
