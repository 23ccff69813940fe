namespace Tessera.Planning;

/// <summary>A link between devices: bandwidth per device and direction, and the latency of a small message.</summary>
public sealed record LinkSpec(string Name, double BandwidthBytesPerSecond, double LatencySeconds);
