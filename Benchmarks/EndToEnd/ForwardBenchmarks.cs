using BenchmarkDotNet.Attributes;
using Tessera.Models;

namespace Tessera.Benchmarks.EndToEnd;

/// <summary>
/// The single-device forward of a generated engine: a 128-token prefill (batched matrix products) and one decode
/// step (matrix-vector products, memory-bound) on the bundled tiny Llama and a random-weight dim-768 Llama.
/// </summary>
[MemoryDiagnoser(false)]
public class ForwardBenchmarks
{
    private ITransformerEngine _engine = null!;
    private int[] _prompt = [];
    private KvCache _decodeCache = null!;

    [Params("tiny-llama", "llama-768x12")]
    public string Model { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        string directory = Model == "tiny-llama" ? EngineCatalog.Bundled("tiny-llama") : RandomLlamaCheckpoint.Medium();
        _engine = EngineCatalog.Open(directory);
        var random = new Random(1);
        int length = Math.Min(128, _engine.Shape.ContextLength - 1);
        _prompt = Enumerable.Range(0, length).Select(_ => random.Next(_engine.Shape.VocabSize)).ToArray();
        _decodeCache = _engine.CreateCache();
        _engine.Forward(TokenBatch.ForSequence(_decodeCache, _prompt.AsSpan(0, Math.Min(32, length))));
    }

    /// <summary>All prompt tokens in one forward; logits of the last row only, as generation asks.</summary>
    [Benchmark]
    public float[] Prefill128() => _engine.Forward(TokenBatch.ForSequence(_engine.CreateCache(), _prompt, lastLogitsOnly: true));

    /// <summary>One token at position 32 (the cache is rewound each time, so every call does the same work).</summary>
    [Benchmark]
    public float[] DecodeStep()
    {
        _decodeCache.Truncate(32);
        return _engine.Forward(TokenBatch.ForSequence(_decodeCache, [_prompt[32 % _prompt.Length]]));
    }
}
