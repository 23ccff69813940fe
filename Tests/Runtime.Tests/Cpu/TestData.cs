using Tessera.Cpu;

namespace Tessera.Runtime.Tests.Cpu;

/// <summary>Seeded random inputs and tolerance checks shared by the kernel tests.</summary>
internal static class TestData
{
    public static float[] Random(int count, int seed, float scale = 1f)
    {
        var random = new Random(seed);
        var a = new float[count];
        for (int i = 0; i < a.Length; i++) a[i] = (float)(random.NextDouble() * 2 - 1) * scale;
        return a;
    }

    /// <summary>
    /// |actual - expected| ≤ relative · magnitude + 1e-30 elementwise, where magnitude is the size of the terms that
    /// were summed (so a sum that cancels to ~0 is judged against its terms, not against 0). Names the first mismatch.
    /// </summary>
    public static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, ReadOnlySpan<float> magnitude, double relative, string what)
    {
        Assert.True(expected.Length <= actual.Length, $"{what}: output has {actual.Length} elements, expected {expected.Length}.");
        for (int i = 0; i < expected.Length; i++)
        {
            double tolerance = relative * Math.Max(Math.Abs(magnitude[i]), Math.Abs(expected[i])) + 1e-30;
            if (!(Math.Abs(actual[i] - expected[i]) <= tolerance))
                Assert.Fail($"{what}: element {i} is {actual[i]:R}, expected {expected[i]:R} (tolerance {tolerance:G3}).");
        }
    }

    /// <summary>Elementwise |actual - expected| ≤ relative · max(|expected|, floor).</summary>
    public static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double relative, string what, double floor = 1e-6)
    {
        Assert.True(expected.Length <= actual.Length, $"{what}: output has {actual.Length} elements, expected {expected.Length}.");
        for (int i = 0; i < expected.Length; i++)
        {
            double tolerance = relative * Math.Max(Math.Abs(expected[i]), floor);
            if (!(Math.Abs(actual[i] - expected[i]) <= tolerance))
                Assert.Fail($"{what}: element {i} is {actual[i]:R}, expected {expected[i]:R} (tolerance {tolerance:G3}).");
        }
    }
}

/// <summary>
/// An epilogue for a product whose final values are <paramref name="expected"/>: it counts the calls per element and
/// notes the first element passed before it was finished (further than <paramref name="relative"/> of its
/// magnitude from the expected value); <paramref name="rewrite"/>, when given, replaces each value (row, column) so the
/// caller can see the epilogue's writes stick.
/// </summary>
internal sealed class EpilogueProbe(float[] expected, float[] magnitude, int n, double relative, Func<float, int, int, float>? rewrite = null)
{
    private readonly int[] _calls = new int[expected.Length];
    private string? _problem;

    public Epilogue Epilogue => (segment, row, column) =>
    {
        for (int i = 0; i < segment.Length; i++)
        {
            int index = row * n + column + i;
            Interlocked.Increment(ref _calls[index]);
            if (Math.Abs(segment[i] - expected[index]) > relative * magnitude[index] + 1e-30)
                _problem ??= $"y[{row}, {column + i}] = {segment[i]} is not final when its epilogue runs (expected {expected[index]})";
            if (rewrite is not null) segment[i] = rewrite(segment[i], row, column + i);
        }
    };

    /// <summary>Every element was passed exactly once, finished.</summary>
    public void AssertEachElementOnceAndFinished(string what)
    {
        Assert.True(_problem is null, $"{what}: {_problem}");
        for (int i = 0; i < _calls.Length; i++)
            Assert.True(_calls[i] == 1, $"{what}: y[{i / n}, {i % n}] was passed to the epilogue {_calls[i]} times.");
    }
}
