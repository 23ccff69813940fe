namespace Tessera.Parallelism;

/// <summary>One executed step: a device ran a micro-batch at a clock, from <see cref="Start"/> to <see cref="End"/> (since the forward began).</summary>
public sealed record TraceStep(int Device, int DataRank, int Stage, int TensorRank, int Clock, int MicroBatch, TimeSpan Start, TimeSpan End)
{
    public TimeSpan Duration => End - Start;

    /// <summary>True when both steps were running at some common instant.</summary>
    public bool Overlaps(TraceStep other) => Start < other.End && other.Start < End;
}
