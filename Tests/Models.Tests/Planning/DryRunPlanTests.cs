using System.Text.Json.Nodes;
using Tessera.Models.Tests.Cli;
using Tessera.Parallelism;
using Tessera.Planning;
using static Tessera.Models.Tests.Cli.TesseraCli;

namespace Tessera.Models.Tests.Planning;

/// <summary>
/// Planning from config.json alone: the published parameter counts of real checkpoints, reproduced from their public
/// configs; their FP16 sizes; and <c>tessera plan --dry-run</c> on a folder that holds nothing but config.json.
/// </summary>
[Collection(CliCollection.Name)]
public sealed class DryRunPlanTests
{
    /// <summary>Models/Configs/NAME: the published config.json of a checkpoint, without its weights.</summary>
    internal static string Config(string name)
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Compiler.sln"))) dir = dir.Parent;
        return Path.Combine(dir!.FullName, "Models", "Configs", name);
    }

    [Theory]
    [InlineData("llama-2-7b", 6_738_415_616L)]
    [InlineData("llama-2-13b", 13_015_864_320L)]
    [InlineData("llama-3-8b", 8_030_261_248L)]
    [InlineData("llama-2-70b", 68_976_648_192L)]
    [InlineData("mixtral-8x7b", 46_702_792_704L)]
    [InlineData("llama-3.1-8b", 8_030_261_248L)]
    [InlineData("mistral-7b", 7_241_732_096L)]
    [InlineData("mistral-7b-v0.3", 7_248_023_552L)]
    [InlineData("qwen2.5-7b", 7_615_616_512L)]      // q/k/v biases
    [InlineData("qwen3-8b", 8_190_735_360L)]        // per-head q/k norms
    [InlineData("qwen3-30b-a3b", 30_532_122_624L)]  // 128 experts per layer, no dense MLP loaded where every layer is sparse
    [InlineData("phi-3-mini", 3_821_079_552L)]      // fused qkv_proj and gate_up_proj, each part counted once
    [InlineData("gemma-2-9b-it", 9_241_705_984L)]   // four norms a layer, a head tied by the config class's default
    [InlineData("gemma-3-1b-it", 999_885_952L)]
    public void TheParameterCount_FromThePublicConfig_IsThePublishedOne(string model, long published)
    {
        Assert.Equal(published, EngineCatalog.Facts(Config(model)).Parameters);
    }

    [Fact]
    public void AMultimodalGemma3_CountsItsTextModel_TheOneTesseraRuns()
    {
        // Gemma-3-4B publishes 4,300,079,472 parameters: its text model's 3,880,263,168 (with vocabulary, heads and head
        // dimension its text_config leaves to the config class's defaults), a SigLIP vision tower and a projector,
        // which Tessera does not run.
        var facts = EngineCatalog.Facts(Config("gemma-3-4b-it"));
        Assert.Equal("Gemma3", facts.ModelName);
        Assert.Equal(3_880_263_168L, facts.Parameters);
        Assert.Equal(4_300_079_472L - 416_866_032L - 2_950_272L, facts.Parameters);
    }

    [Fact]
    public void AMixtureOfExperts_WithDenseLayersAmongSparseOnes_CountsEachLayerAsItLoads()
    {
        // Qwen3-30B-A3B with every other layer dense (decoder_sparse_step 2): 24 sparse layers of 623,120,640 and 24 dense
        // ones of attention 18,874,368 + norms 4,352 + a SwiGLU MLP of intermediate_size 3·2048·6144.
        string folder = Path.Combine(Path.GetTempPath(), "tessera-dense-sparse-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(Config("qwen3-30b-a3b"), "config.json")))!.AsObject();
            config["decoder_sparse_step"] = 2;
            File.WriteAllText(Path.Combine(folder, "config.json"), config.ToJsonString());
            var facts = EngineCatalog.Facts(folder);
            long sparse = 623_120_640L, dense = 18_874_368L + 256 + 4_096 + 3L * 2048 * 6144, embeddings = 2 * 311_164_928L + 2048;
            Assert.Equal(embeddings + 24 * sparse + 24 * dense, facts.Parameters);
            // A stage holds what its own layers hold: the first one's split (here 25 layers, 12 of them sparse: the odd
            // ones) with the embedding, at 2 bytes a parameter.
            var memory = MemoryEstimate.Of(facts, new ParallelPlan(Pipeline: 2), PlanDType.BF16, PlanDType.BF16, batch: 1, context: 1024);
            int first = memory.LayerSplit[0], sparseInFirst = first / 2;
            Assert.Equal(48, memory.LayerSplit.Sum());
            Assert.Equal(2 * (311_164_928L + sparseInFirst * sparse + (first - sparseInFirst) * dense), memory.Devices[0].WeightBytes);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Theory]
    [InlineData("llama-2-7b", 14, 13.48)]
    [InlineData("llama-2-13b", 26, 26.03)]
    [InlineData("llama-3-8b", 16, 16.06)]
    [InlineData("llama-2-70b", 140, 137.95)]
    public void TheFp16Weights_AreTheSizesPeopleQuote(string model, int quotedGigabytes, double exactGigabytes)
    {
        // People quote 2 bytes x the nominal size ("7B ~ 14 GB"); the exact figure is 2 bytes x the exact count.
        var estimate = MemoryEstimate.Of(EngineCatalog.Facts(Config(model)), new ParallelPlan(), PlanDType.F16, PlanDType.F16, batch: 1, context: 1024);
        Assert.Equal(exactGigabytes, Math.Round(estimate.WeightBytes / 1e9, 2));
        Assert.InRange(estimate.WeightBytes / 1e9, 0.95 * quotedGigabytes, 1.05 * quotedGigabytes);
    }

    [Fact]
    public void ATiedHead_IsCountedOnce()
    {
        // GPT-2's head is its token embedding: 0.12B parameters for the small model, not 0.16B.
        var facts = EngineCatalog.Facts(Fixtures.Directory(Fixtures.TinyGpt2));
        long embedding = 384L * 64, positions = 64L * 64, layer = 2 * 2 * 64 + (64 * 192 + 192) + (64 * 64 + 64) + (64 * 256 + 256) + (256 * 64 + 64);
        Assert.Equal(embedding + positions + 3 * layer + 2 * 64, facts.Parameters);
    }

    [Fact]
    public void ADryRun_OnAFolderWithOnlyConfigJson_PrintsParametersBytesAndEveryDevice_AsJson()
    {
        string folder = Path.Combine(Path.GetTempPath(), "tessera-dry-run-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            File.Copy(Path.Combine(Config("llama-3-8b"), "config.json"), Path.Combine(folder, "config.json"));

            var result = Run("plan", "--checkpoint", folder, "--dry-run", "--json", "--weights", "BF16", "--pp", "8", "--tp", "8",
                "--batch", "32", "--context", "4096", "--device-memory", "80GB");

            Assert.True(result.ExitCode == 0, result.ToString());
            var json = JsonNode.Parse(result.Out)!;
            Assert.Equal(8_030_261_248L, (long)json["parameters"]!);
            Assert.Equal(2 * 8_030_261_248L, (long)json["weight_bytes"]!);
            // 32 sequences x 4096 positions x 32 layers x 2 (K, V) x 8 KV heads x 128 x 2 bytes.
            Assert.Equal(32L * 4096 * 32 * 2 * 8 * 128 * 2, (long)json["kv_cache_bytes"]!);
            var devices = json["devices"]!.AsArray();
            Assert.Equal(64, devices.Count);
            Assert.All(devices, d => Assert.Equal((long)d!["weight_bytes"]! + (long)d["kv_cache_bytes"]! + (long)d["activation_bytes"]!, (long)d["total_bytes"]!));
            // 64 GPUs share the weights: about 1/64 of them each, but every tensor rank of the first stage holds the whole embedding.
            Assert.InRange((long)devices[0]!["weight_bytes"]!, 2 * 8_030_261_248L / 64, 2 * 8_030_261_248L / 64 + 2L * 128256 * 4096);
            Assert.True((bool)json["fits"]!);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void ADryRun_ThatDoesNotFit_SaysSo_InsteadOfFailing()
    {
        var result = Run("plan", "--checkpoint", Config("llama-2-70b"), "--dry-run", "--weights", "F16", "--dp", "8", "--device-memory", "80GB");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("parameters        68,976,648,192", result.Out);
        Assert.Contains("does not fit: a device needs 14", result.Out);   // 137.95 GB of weights, then the cache and activations
        Assert.Contains("but has 80 GB", result.Out);
    }

    [Fact]
    public void ADryRun_ForACatalogueGpu_ChecksItsMemory()
    {
        var fits = Run("plan", "--checkpoint", Config("llama-2-70b"), "--dry-run", "--weights", "BF16", "--tp", "2", "--gpu", "H100");
        var doesNot = Run("plan", "--checkpoint", Config("llama-2-70b"), "--dry-run", "--weights", "BF16", "--gpu", "h200");

        Assert.Contains("fits: the largest device needs", fits.Out);
        Assert.Contains("of its 72 GB", fits.Out);          // 90 % of 80 GB: what a plan may use, as the advisor counts
        Assert.Contains("does not fit", doesNot.Out);
        Assert.Contains("but has 126.9 GB", doesNot.Out);   // 138 GB of weights in 90 % of 141 GB
    }

    [Fact]
    public void ADryRun_OfAnInvalidPlan_FailsWithOneLine()
    {
        var result = Run("plan", "--checkpoint", Config("llama-3-8b"), "--dry-run", "--tp", "3");

        AssertFailsWith(result, "tp = 3 does not divide", "degrees that work");
    }

    [Theory]
    [InlineData("wide-llama-Q4_K_M")]
    [InlineData("tiny-llama-Q8_0")]
    [InlineData("tiny-qwen3-Q4_0")]
    [InlineData("tiny-llama-f32")]
    public void ADryRun_OfAGgufFile_PricesTheWeightsAsTheFileStoresThem(string file)
    {
        string path = Tessera.Models.Tests.Gguf.GgufFiles.Path(file);
        var result = Run("plan", "--checkpoint", path, "--dry-run", "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        var json = JsonNode.Parse(result.Out)!;
        // The weights are the file's tensor bytes (blocks and scales), within the few bytes of a file's header and padding.
        long weights = (long)json["weight_bytes"]!, fileBytes = new FileInfo(path).Length;
        Assert.InRange(weights, fileBytes * 0.85, fileBytes);
        Assert.Contains("the GGUF file's types", (string)json["weight_dtype"]!);
        Assert.Equal("F32", (string)json["kv_dtype"]!);
    }

    [Fact]
    public void ADryRun_AtQ4_K_M_PricesLlamaCppsMix_AndAnEngineRefusesIt()
    {
        var q4km = Run("plan", "--checkpoint", Config("llama-3-8b"), "--dry-run", "--json", "--weights", "Q4_K_M");
        Assert.True(q4km.ExitCode == 0, q4km.ToString());
        // llama-quantize reports 4.89 bits per weight for Llama 3 8B at Q4_K_M: 4.91 GB of weights.
        Assert.InRange((long)JsonNode.Parse(q4km.Out)!["weight_bytes"]!, 4_900_000_000L, 4_920_000_000L);

        AssertFailsWith(Run("generate", "--prompt", "a", "--weights", "Q4_K_M"), "--weights Q4_K_M is for planning", "tessera quantize");
    }
}
