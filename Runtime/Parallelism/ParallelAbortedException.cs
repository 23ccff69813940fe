namespace Tessera.Parallelism;

/// <summary>
/// Thrown to a rank that was waiting on a transport (a receive, a collective, the clock barrier) when another rank
/// failed: without it the waiting rank would block forever. The engine reports the failing rank's own exception, not
/// these.
/// </summary>
public sealed class ParallelAbortedException(string message, Exception? cause = null) : Exception(message, cause);
