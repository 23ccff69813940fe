namespace Tessera.Generation;

/// <summary>
/// A request that could not fit in the batcher's KV-cache limit even alone (<see cref="BatcherLimits.KvCacheBytes"/>):
/// its prompt plus its max tokens need more positions than the limit holds. A server answers 400.
/// </summary>
public sealed class KvCacheLimitException(int positions, long bytes, long limitBytes, int fittingPositions)
    : ArgumentException($"This request may need {positions} KV-cache positions ({Mib(bytes)}), more than the server's KV-cache limit of {Mib(limitBytes)} holds ({fittingPositions} positions): lower max_tokens or shorten the prompt.")
{
    /// <summary>Positions the request may need: its prompt plus its max tokens, up to the context.</summary>
    public int Positions { get; } = positions;

    /// <summary>The most positions one sequence may hold under the limit.</summary>
    public int FittingPositions { get; } = fittingPositions;

    private static string Mib(long bytes) => $"{bytes / (1024.0 * 1024):0.##} MiB";
}
