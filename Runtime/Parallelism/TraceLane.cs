namespace Tessera.Parallelism;

/// <summary>One device of a traced forward.</summary>
/// <param name="Device">global rank = device index</param>
/// <param name="Name">"cpu:N"</param>
/// <param name="Clocks">the clocks of its replica's schedule (0 when the replica had no sequences)</param>
public sealed record TraceLane(int Device, string Name, int DataRank, int Stage, int TensorRank, int Clocks);
