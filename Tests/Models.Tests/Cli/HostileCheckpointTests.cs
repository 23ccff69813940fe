using System.Text;
using System.Text.Json.Nodes;
using static Tessera.Models.Tests.Cli.TesseraCli;

namespace Tessera.Models.Tests.Cli;

/// <summary>
/// Hostile checkpoints: named mutations of a bundled model's config.json or model.safetensors, each with the outcome
/// <c>tessera logits</c> must give — one clear error line (exit 1, no output file) containing the phrases, or, where the
/// mutation leaves a valid model, finite logits (exit 0). Rows come from a fuzz of mutated files and from the fuzz test
/// (<c>CheckpointFuzzTests</c>): a crash it finds is fixed and added here.
/// </summary>
[Collection(CliCollection.Name)]
public sealed class HostileCheckpointTests
{
    /// <param name="Name">what is mutated, to what</param>
    /// <param name="Model">the bundled checkpoint mutated</param>
    /// <param name="Mutate">the mutation, applied to a scratch copy</param>
    /// <param name="Phrases">what the error line must contain; null when the run must succeed</param>
    /// <param name="NotShown">text the error line must not contain (an overflowed size, a raw control character)</param>
    /// <param name="Plan">plan flags given to logits (the plan is made from the config before any tensor is read)</param>
    private sealed record Mutation(string Name, string Model, Action<ScratchCheckpoint> Mutate, string[]? Phrases, string[]? NotShown = null, string[]? Plan = null);

    private const string Llama = "tiny-llama", Gpt2 = "tiny-gpt2", Mixtral = "tiny-mixtral";

    private static Action<ScratchCheckpoint> Config(string key, JsonNode? value) => s => s.EditConfig(key, value);

    private static Action<ScratchCheckpoint> Configs(params (string Key, JsonNode? Value)[] edits) => s =>
    {
        foreach (var (key, value) in edits) s.EditConfig(key, value);
    };

    /// <summary>Sets a key to JSON written as is (a JSON writer would escape what the test needs raw in the file).</summary>
    private static Action<ScratchCheckpoint> RawConfig(string key, string json) => RawConfig(key, Encoding.UTF8.GetBytes(json));

    /// <summary>Sets a key to JSON bytes written as is: a string holding bytes that are not UTF-8, say.</summary>
    private static Action<ScratchCheckpoint> RawConfig(string key, byte[] json) => s =>
    {
        s.EditConfig(key, "RAW-VALUE");
        byte[] file = File.ReadAllBytes(s.ConfigPath);
        int at = file.AsSpan().IndexOf("\"RAW-VALUE\""u8);
        File.WriteAllBytes(s.ConfigPath, [.. file[..at], .. json, .. file[(at + "\"RAW-VALUE\"".Length)..]]);
    };

    /// <summary>A JSON string of "gelu" with byte 0xC3 (a UTF-8 lead byte without its continuation) inside.</summary>
    private static readonly byte[] NotUtf8 = [(byte)'"', (byte)'g', (byte)'e', 0xC3, (byte)'l', (byte)'u', (byte)'"'];

    private static Action<ScratchCheckpoint> Header(Action<JsonObject> edit) => s => SafetensorsBytes.EditHeader(s.ModelPath, edit);

    private static Action<ScratchCheckpoint> HeaderLength(int delta) => s =>
    {
        var bytes = SafetensorsBytes.Read(s.ModelPath);
        File.WriteAllBytes(s.ModelPath, bytes.ToFile(bytes.Header.Length + delta));
    };

    private static Action<ScratchCheckpoint> Tensor(string name, Action<JsonObject> edit) => Header(h => edit(h[name]!.AsObject()));

    private static Action<ScratchCheckpoint> Rename(string name, string newName, string? dtype = null) => Header(h =>
    {
        var entry = h[name]!.AsObject();
        h.Remove(name);
        if (dtype is not null) entry["dtype"] = dtype;
        h[newName] = entry;
    });

    /// <summary>
    /// The checkpoint as one shard listed by model.safetensors.index.json, whose weight_map gives <paramref name="normShard"/>
    /// (JSON text) as the shard of model.norm.weight.
    /// </summary>
    private static Action<ScratchCheckpoint> Sharded(string normShard) => s =>
    {
        const string shard = "model-00001-of-00001.safetensors";
        File.Move(s.ModelPath, Path.Combine(s.Directory, shard));
        var map = new JsonObject();
        foreach (var tensor in SafetensorsFixture.Read(Path.Combine(s.Directory, shard))) map[tensor.Name] = shard;
        map[NormWeight] = "NORM-SHARD";
        string index = new JsonObject { ["weight_map"] = map }.ToJsonString().Replace("\"NORM-SHARD\"", normShard);
        File.WriteAllText(Path.Combine(s.Directory, "model.safetensors.index.json"), index);
    };

    /// <summary>
    /// Two shards that both hold every tensor (the second one's model.norm.weight zeroed), and an index that names the
    /// second for model.norm.weight and the first for the rest: which copy is meant is for the index to say, and the
    /// shards contradict it.
    /// </summary>
    private static readonly Action<ScratchCheckpoint> TwoShardsHoldingOneTensor = s =>
    {
        const string first = "model-00001-of-00002.safetensors", second = "model-00002-of-00002.safetensors";
        File.Copy(s.ModelPath, Path.Combine(s.Directory, second));
        File.Move(s.ModelPath, Path.Combine(s.Directory, first));
        var map = new JsonObject();
        foreach (var tensor in SafetensorsFixture.Read(Path.Combine(s.Directory, first))) map[tensor.Name] = tensor.Name == NormWeight ? second : first;
        File.WriteAllText(Path.Combine(s.Directory, "model.safetensors.index.json"), new JsonObject { ["weight_map"] = map }.ToJsonString());
    };

    private const string NormWeight = "model.norm.weight"; // (64) F32, bytes [a, a + 256)

    /// <summary>Overwrites element <paramref name="index"/> of an F32 tensor with the float of <paramref name="bits"/> (a NaN, an infinity).</summary>
    private static Action<ScratchCheckpoint> WeightBits(string tensor, long index, uint bits) => s =>
    {
        var bytes = SafetensorsBytes.Read(s.ModelPath);
        long start = (long)bytes.HeaderJson()[tensor]!["data_offsets"]![0]!;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(bytes.Data.AsSpan((int)(start + index * 4)), bits);
        File.WriteAllBytes(s.ModelPath, bytes.ToFile());
    };

    /// <summary>
    /// Stores an F32 tensor as <paramref name="dtype"/> (BF16: the top half of each float; F16: rounded), element
    /// <paramref name="index"/> as the 16 <paramref name="bits"/>; the tensors after it move down.
    /// </summary>
    private static Action<ScratchCheckpoint> HalfWeightBits(string tensor, string dtype, int index, ushort bits) => s =>
    {
        var bytes = SafetensorsBytes.Read(s.ModelPath);
        var header = bytes.HeaderJson();
        var data = new List<byte>();
        foreach (var (name, node) in header.Where(e => e.Key != "__metadata__").OrderBy(e => (long)e.Value!["data_offsets"]![0]!).ToList())
        {
            long from = (long)node!["data_offsets"]![0]!, to = (long)node["data_offsets"]![1]!;
            byte[] stored = bytes.Data[(int)from..(int)to];
            if (name == tensor)
            {
                var floats = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(stored).ToArray();
                var halves = floats.Select(f => dtype == "BF16" ? (ushort)(BitConverter.SingleToUInt32Bits(f) >> 16) : BitConverter.HalfToUInt16Bits((Half)f)).ToArray();
                halves[index] = bits;
                stored = System.Runtime.InteropServices.MemoryMarshal.AsBytes(halves.AsSpan()).ToArray();
                node["dtype"] = dtype;
            }
            node["data_offsets"] = new JsonArray(data.Count, data.Count + stored.Length);
            data.AddRange(stored);
        }
        File.WriteAllBytes(s.ModelPath, (bytes with { Data = [.. data] }).WithHeader(header).ToFile());
    };

    private static readonly Mutation[] Mutations =
    [
        // Counts that size per-layer (per-expert) arrays are bounded by the tensors the checkpoint holds, before allocating.
        new("num_hidden_layers = 2^31-1", Llama, Config("num_hidden_layers", int.MaxValue), ["\"num_hidden_layers\"", "2147483647", "holds 4"]),
        new("num_hidden_layers = 5, one more than held", Llama, Config("num_hidden_layers", 5), ["\"num_hidden_layers\"", "is 5", "holds 4", "model.layers.4."]),
        new("num_hidden_layers = 2^31-1, --pp 2", Llama, Config("num_hidden_layers", int.MaxValue), ["2147483647 layers", "--layers-per-stage"], Plan: ["--pp", "2"]),
        new("num_hidden_layers = 2^31-1, --tp 2", Llama, Config("num_hidden_layers", int.MaxValue), ["\"num_hidden_layers\"", "holds 4"], Plan: ["--tp", "2"]),
        new("num_hidden_layers = 1000, --pp 2", Llama, Config("num_hidden_layers", 1000), ["\"num_hidden_layers\"", "holds 4"], Plan: ["--pp", "2"]),
        new("intermediate_size = 6e7, --tp 2 (found by the fuzz: 15 GB allocated)", Llama, Config("intermediate_size", 60_000_000), ["mlp.gate_proj.weight", "[176, 64]"], Plan: ["--tp", "2"]),
        new("num_attention_heads = 1e8, --tp 2 (found by the fuzz: OverflowException)", Llama, Config("num_attention_heads", 100_000_000),
            ["self_attn.q_proj.weight", "[64, 64]"], Plan: ["--tp", "2"]),
        new("vocab_size = 2^31-1, --tp 2", Llama, Config("vocab_size", int.MaxValue), ["model.embed_tokens.weight", "[512, 64]"], Plan: ["--tp", "2"]),
        new("n_embd = 2^29, --tp 2", Gpt2, Config("n_embd", 1 << 29), ["n_embd", "536870912"], Plan: ["--tp", "2"]),
        new("n_layer = 2^31-1", Gpt2, Config("n_layer", int.MaxValue), ["\"n_layer\"", "2147483647", "holds 3"]),
        new("mixtral num_hidden_layers = 2^31-1", Mixtral, Config("num_hidden_layers", int.MaxValue), ["\"num_hidden_layers\"", "holds 3"]),
        new("num_local_experts = 2^31-1", Mixtral, Config("num_local_experts", int.MaxValue), ["\"num_local_experts\"", "2147483647", "holds 4"]),

        // The KV cache grows by use: a huge context length costs nothing until positions are used.
        new("max_position_embeddings = 1e8", Llama, Config("max_position_embeddings", JsonNode.Parse("1e8")), null),
        new("max_position_embeddings = 6e7", Llama, Config("max_position_embeddings", 60_000_000), null),
        new("max_position_embeddings = 2^31-1", Llama, Config("max_position_embeddings", int.MaxValue), null),

        // Sizes derived from config ints are checked: an overflowed product must neither size anything nor show in a message.
        new("head_dim = 2^30+16 (Heads * HeadDim wraps to 128)", Llama, Config("head_dim", (1 << 30) + 16),
            ["Heads * HeadDim", "\"head_dim\" = 1073741840", "2147483647"], ["= 128"]),
        new("head_dim = 2^29+8 (Heads * HeadDim wraps to the true 64)", Llama, Configs(("head_dim", (1 << 29) + 8), ("num_key_value_heads", 8)),
            ["Heads * HeadDim", "2147483647"], ["= 64,"]),
        new("n_embd = 2^30 (the default 4 * Dim wraps to 0)", Gpt2, Config("n_embd", 1 << 30), ["4 * Dim", "\"n_embd\" = 1073741824", "2147483647"], ["found 0"]),
        new("vocab_size = 2^31-1", Llama, Config("vocab_size", int.MaxValue), ["model.embed_tokens.weight", "[512, 64]"]),
        new("intermediate_size = 2^31-1", Llama, Config("intermediate_size", int.MaxValue), ["mlp.gate_proj.weight", "[176, 64]"]),

        // Values of the wrong JSON type or range.
        new("hidden_size = \"64\"", Llama, Config("hidden_size", "64"), ["\"hidden_size\"", "should be an integer", "\"64\""]),
        new("hidden_size = 1.5", Llama, Config("hidden_size", 1.5), ["\"hidden_size\"", "should be an integer", "1.5"]),
        new("hidden_size = 1e400", Llama, Config("hidden_size", JsonNode.Parse("1e400")), ["\"hidden_size\"", "should be an integer"]),
        new("hidden_size = {} (nested object)", Llama, Config("hidden_size", new JsonObject { ["a"] = 1 }), ["\"hidden_size\"", "should be an integer"]),
        new("hidden_size = -1", Llama, Config("hidden_size", -1), ["\"hidden_size\"", "must be positive"]),
        new("num_attention_heads = 0", Llama, Config("num_attention_heads", 0), ["\"num_attention_heads\"", "must be positive"]),
        new("hidden_size not divisible by the heads (no head_dim)", Llama,
            Configs(("head_dim", null), ("num_attention_heads", 6), ("num_key_value_heads", 6)), ["hidden_size", "64", "num_attention_heads", "6", "head_dim"]),
        new("num_key_value_heads not dividing the heads", Llama, Config("num_key_value_heads", 3), ["divisible by KvHeads = 3"]),
        new("rms_norm_eps = \"1e-5\"", Llama, Config("rms_norm_eps", "1e-5"), ["\"rms_norm_eps\"", "should be a number"]),
        new("rope_theta = 1e400", Llama, Config("rope_theta", JsonNode.Parse("1e400")), ["\"rope_theta\"", "must be a positive number"]),
        new("tie_word_embeddings = 1", Llama, Config("tie_word_embeddings", 1), ["\"tie_word_embeddings\"", "true or false"]),
        new("config.json not JSON", Llama, s => File.WriteAllText(s.ConfigPath, "{\"hidden_size\": 64,"), ["config.json", "malformed JSON"]),

        // Text from the files is escaped and cut in messages.
        new("model_type with an escape sequence", Llama, Config("model_type", "llama\u001b[31m"), ["\"llama\\u001b[31m\"", "not supported"], ["\u001b"]),
        new("model_type of 100,000 characters", Llama, Config("model_type", new string('x', 100_000)), ["model_type", "100,000 characters"], [new string('x', 200)]),
        new("hidden_act with a raw right-to-left override", Llama, RawConfig("hidden_act", "\"si\u202elu\""), ["\"hidden_act\"", "\"si\\u202elu\""], ["\u202e"]),
        new("hidden_act a string that is not UTF-8 (found by the fuzz)", Llama, RawConfig("hidden_act", NotUtf8), ["\"hidden_act\"", "UTF-8"]),
        new("activation_function a string that is not UTF-8 (found by the fuzz)", Gpt2, RawConfig("activation_function", NotUtf8), ["\"activation_function\"", "UTF-8"]),
        new("hidden_size a string that is not UTF-8", Llama, RawConfig("hidden_size", NotUtf8), ["\"hidden_size\"", "should be an integer"]),
        new("rope_scaling a string that is not UTF-8", Llama, RawConfig("rope_scaling", NotUtf8), ["\"rope_scaling\"", "should be an object"]),
        new("model_type a string that is not UTF-8", Llama, RawConfig("model_type", NotUtf8), ["\"model_type\"", "UTF-8"]),
        new("rope_scaling of 100,000 characters", Llama, Config("rope_scaling", new string('y', 100_000)), ["rope_scaling", "should be an object"], [new string('y', 200)]),
        new("tensor renamed with a newline, dtype unknown", Llama, Rename(NormWeight, "evil\nname", dtype: "X9"), ["corrupt safetensors header", "\"evil\\nname\"", "\"X9\""]),
        new("tensor renamed with an escape sequence, offsets overlapping", Llama, Header(h =>
        {
            var entry = h[NormWeight]!.AsObject();
            h.Remove(NormWeight);
            var offsets = entry["data_offsets"]!.AsArray();
            entry["data_offsets"] = new JsonArray((long)offsets[0]! + 4, (long)offsets[1]! + 4);
            h["\u001b[2J"] = entry;
        }), ["corrupt safetensors header", "\"\\u001b[2J\""], ["\u001b"]),
        new("dtype with a control character", Llama, Tensor(NormWeight, t => t["dtype"] = "F\u000132"), ["corrupt safetensors header", "\"F\\u000132\""], ["\u0001"]),

        // Weight values that are not numbers: one poisons every logit, so the load refuses them, naming tensor and index (issue 28).
        new("a NaN in an embedding row", Llama, WeightBits("model.embed_tokens.weight", 64 + 5, 0x7FC00000), ["model.embed_tokens.weight", "NaN at [1, 5]", "finite"]),
        new("+Inf in lm_head", Llama, WeightBits("lm_head.weight", 3 * 64 + 7, 0x7F800000), ["lm_head.weight", "+Inf at [3, 7]", "finite"]),
        new("-Inf in a norm vector", Llama, WeightBits(NormWeight, 9, 0xFF800000), [NormWeight, "-Inf at index 9"]),
        new("a NaN in a gpt2 Conv1D weight (stored [in, out])", Gpt2, WeightBits("h.0.attn.c_attn.weight", 2, 0x7FC00000), ["h.0.attn.c_attn.weight", "NaN at [0, 2]"]),
        new("BF16 0x7FC0 (NaN) in lm_head", Llama, HalfWeightBits("lm_head.weight", "BF16", 70, 0x7FC0), ["lm_head.weight", "BF16", "NaN at [1, 6]"]),
        new("F16 0x7C00 (+Inf) in lm_head", Llama, HalfWeightBits("lm_head.weight", "F16", 70, 0x7C00), ["lm_head.weight", "F16", "+Inf at [1, 6]"]),
        new("F16 lm_head, every value finite", Llama, HalfWeightBits("lm_head.weight", "F16", 70, 0x0000), null),

        // model.safetensors mutations.
        new("header length + 1", Llama, HeaderLength(+1), ["corrupt safetensors header"]),
        new("header length - 1", Llama, HeaderLength(-1), ["corrupt safetensors header"]),
        new("header length 2^63-1", Llama, s => File.WriteAllBytes(s.ModelPath, SafetensorsBytes.Read(s.ModelPath).ToFile(long.MaxValue)), ["corrupt safetensors header", "header length"]),
        new("data_offsets end + 4", Llama, Tensor(NormWeight, t => t["data_offsets"]![1] = (long)t["data_offsets"]![1]! + 4), ["corrupt safetensors header", NormWeight]),
        new("data_offsets of 2^63-1", Llama, Tensor(NormWeight, t => t["data_offsets"] = new JsonArray(0, long.MaxValue)), ["corrupt safetensors header", NormWeight]),
        new("data_offsets of three numbers", Llama, Tensor(NormWeight, t => t["data_offsets"]!.AsArray().Add(0)), ["corrupt safetensors header", "two numbers"]),
        new("dtype F32 -> F16", Llama, Tensor(NormWeight, t => t["dtype"] = "F16"), ["corrupt safetensors header", NormWeight, "F16"]),
        new("dtype F32 -> I32", Llama, Tensor(NormWeight, t => t["dtype"] = "I32"), [NormWeight, "dtype", "I32"]),
        new("shape [64] -> [63]", Llama, Tensor(NormWeight, t => t["shape"] = new JsonArray(63)), ["corrupt safetensors header", NormWeight]),
        new("shape [64] -> [32, 2]", Llama, Tensor(NormWeight, t => t["shape"] = new JsonArray(32, 2)), [NormWeight, "[32, 2]", "[64]"]),
        new("shape of dimensions overflowing long", Llama, Tensor(NormWeight, t => t["shape"] = new JsonArray(1L << 40, 1L << 40)), ["corrupt safetensors header", NormWeight]),
        new("shape [-64]", Llama, Tensor(NormWeight, t => t["shape"] = new JsonArray(-64)), ["corrupt safetensors header", "negative dimension"]),
        new("shape \"64\"", Llama, Tensor(NormWeight, t => t["shape"] = "64"), ["corrupt safetensors header", NormWeight]),
        new("tensor renamed", Llama, Rename(NormWeight, "model.norm.weigh"), ["\"model.norm.weight\"", "does not have"]),
        new("file truncated by 4 KiB", Llama, s => File.WriteAllBytes(s.ModelPath, File.ReadAllBytes(s.ModelPath)[..^4096]), ["corrupt safetensors header"]),
        new("file truncated inside the header", Llama, s => File.WriteAllBytes(s.ModelPath, File.ReadAllBytes(s.ModelPath)[..100]), ["corrupt safetensors header"]),
        new("header JSON garbage", Llama, s => SafetensorsFixture.Patch(s.ModelPath, 8, SafetensorsFixture.Ascii("{\"a\": [}")), ["corrupt safetensors header", "JSON"]),
        new("header a JSON array", Llama, s => SafetensorsFixture.Patch(s.ModelPath, 8, SafetensorsFixture.Ascii("[1]  ")), ["corrupt safetensors header"]),
        new("gpt2 header length - 1", Gpt2, HeaderLength(-1), ["corrupt safetensors header"]),

        // model.safetensors.index.json: shards are files of the checkpoint folder, named by strings.
        new("index: a valid single shard", Llama, Sharded("\"model-00001-of-00001.safetensors\""), null),
        new("index: a shard of null", Llama, Sharded("null"), ["model.safetensors.index.json", $"\"{NormWeight}\"", "file name", "null"]),
        new("index: a shard of 5", Llama, Sharded("5"), ["model.safetensors.index.json", $"\"{NormWeight}\"", "file name", "5"]),
        new("index: a shard outside the folder (../)", Llama, Sharded("\"../tiny-llama/model-00001-of-00001.safetensors\""),
            ["model.safetensors.index.json", $"\"{NormWeight}\"", "file name", "\"../tiny-llama/"]),
        new("index: a shard at an absolute path", Llama, Sharded("\"/etc/passwd\""), ["model.safetensors.index.json", "file name", "\"/etc/passwd\""], ["header length"]),
        new("index: a tensor in two shards (issue 28: the later shard's copy won silently)", Llama, TwoShardsHoldingOneTensor,
            ["is in two shards", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]),
        new("index: a shard name with an escape sequence", Llama, Sharded("\"a\\u001bb.safetensors\""), ["model.safetensors.index.json", "\"a\\u001bb.safetensors\""], ["\u001b"]),
    ];

    public static TheoryData<string> Names => new(Mutations.Select(m => m.Name));

    [Theory]
    [MemberData(nameof(Names))]
    public void Logits_OnAMutatedCheckpoint_FailsWithOneClearLine_OrGivesFiniteLogits(string name)
    {
        var mutation = Mutations.Single(m => m.Name == name);
        using var scratch = new ScratchCheckpoint(mutation.Model);
        mutation.Mutate(scratch);

        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        var result = Run(["logits", "--checkpoint", scratch.Directory, "--tokens", "1,2,3", "--out", scratch.OutPath, .. mutation.Plan ?? []]);

        // The models' weights are 1 MB: what a config claims must not be allocated before the tensors are checked.
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        Assert.True(allocated < 256L << 20, $"logits allocated {allocated:N0} bytes\n{result}");

        if (mutation.Phrases is null)
        {
            Assert.True(result.ExitCode == 0, result.ToString());
            var logits = SafetensorsFixture.Tensor(scratch.OutPath, "logits");
            Assert.Equal(3, logits.Shape[0]);
            Assert.All(logits.Floats(), v => Assert.True(float.IsFinite(v), $"a logit is {v}"));
            return;
        }
        string message = AssertFailsWith(result, mutation.Phrases);
        foreach (var hidden in mutation.NotShown ?? [])
            Assert.False(message.Contains(hidden, StringComparison.Ordinal), $"the error shows text it must not (row \"{name}\")\n{result}");
        Assert.DoesNotContain(message, c => char.IsControl(c));
        scratch.AssertNothingWritten();
    }

    [Theory]
    [InlineData(100_000_000)]
    [InlineData(60_000_000)]
    public void Generate_WithAHugeContextLength_ContinuesThePrompt_WithoutAllocatingTheWholeCache(int contextLength)
    {
        using var scratch = new ScratchCheckpoint();
        scratch.EditConfig("max_position_embeddings", contextLength);
        long before = GC.GetTotalAllocatedBytes(precise: true);

        var result = Run("generate", "-c", scratch.Directory, "-t", "1,2,3", "--max-new-tokens", "3");

        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(3, result.Out.Trim().Split(',').Length);
        // One layer's keys for the whole context would be 100M x 32 floats: the cache must hold only what is used.
        Assert.True(allocated < 64L << 20, $"generate allocated {allocated:N0} bytes");
    }
}
