using Tessera.Parallelism;

namespace Tessera.Models.Tests.Correctness;

/// <summary>
/// A caller's logits array (TokenBatch.WithLogitsInto): the engines write the logits into it and return it, so that a
/// decoder's steps allocate no logits; an array of another length is left alone.
/// </summary>
public sealed class LogitsDestinationTests
{
    public static TheoryData<string> Engines() => new() { "one device", "tp2 x pp2" };

    [Theory]
    [MemberData(nameof(Engines))]
    public void TheEngineWritesTheLogitsIntoTheCallersArray_AndReturnsIt(string engineName)
    {
        var reference = Fixtures.Load(Fixtures.TinyLlama);
        var engine = Open(engineName);
        try
        {
            int vocab = engine.Shape.VocabSize;
            float[] expected = engine.Forward(TokenBatch.ForSequence(engine.CreateCache(), reference.Tokens, lastLogitsOnly: true));

            var destination = Enumerable.Repeat(float.NaN, vocab).ToArray();
            float[] actual = engine.Forward(TokenBatch.ForSequence(engine.CreateCache(), reference.Tokens, lastLogitsOnly: true).WithLogitsInto(destination));

            Assert.Same(destination, actual);
            Assert.Equal(expected, actual);
        }
        finally
        {
            (engine as IDisposable)?.Dispose();
        }
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public void AnArrayOfAnotherLength_IsLeftAlone(string engineName)
    {
        var reference = Fixtures.Load(Fixtures.TinyLlama);
        var engine = Open(engineName);
        try
        {
            var tooShort = new float[engine.Shape.VocabSize - 1];
            float[] logits = engine.Forward(TokenBatch.ForSequence(engine.CreateCache(), reference.Tokens, lastLogitsOnly: true).WithLogitsInto(tooShort));

            Assert.NotSame(tooShort, logits);
            Assert.Equal(engine.Shape.VocabSize, logits.Length);
            Assert.All(tooShort, v => Assert.Equal(0f, v));
        }
        finally
        {
            (engine as IDisposable)?.Dispose();
        }
    }

    private static ITransformerEngine Open(string name) => name == "one device"
        ? EngineCatalog.Open(Fixtures.Directory(Fixtures.TinyLlama))
        : EngineCatalog.Open(Fixtures.Directory(Fixtures.TinyLlama), EngineKind.Generic, new ParallelPlan(Tensor: 2, Pipeline: 2, MicroBatches: 2));
}
