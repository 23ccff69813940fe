namespace Tessera.Generation;

/// <summary>A request refused because <see cref="BatcherLimits.MaxQueued"/> requests already wait for a slot (a server answers 429).</summary>
public sealed class QueueFullException(int waiting)
    : Exception($"The server is busy: {waiting} request(s) already wait for a slot, its limit. Retry later.")
{
    public int Waiting { get; } = waiting;
}
