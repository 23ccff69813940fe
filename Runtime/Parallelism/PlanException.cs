namespace Tessera.Parallelism;

/// <summary>
/// A parallel plan that cannot run this model (or on these devices). The message says what is wrong and what would
/// work; when several things are wrong it lists every one (one per line), so a user fixes them all in one go.
/// </summary>
public sealed class PlanException : Exception
{
    /// <summary>One problem, stated in full (generated rank programs throw this one).</summary>
    public PlanException(string message)
        : base(message)
    {
        Problems = [message];
    }

    /// <summary>Every problem a plan check found.</summary>
    public PlanException(IReadOnlyList<string> problems)
        : base(problems.Count == 1 ? "Invalid parallel plan: " + problems[0] : "Invalid parallel plan:\n  - " + string.Join("\n  - ", problems))
    {
        Problems = problems;
    }

    /// <summary>Each problem, as one sentence.</summary>
    public IReadOnlyList<string> Problems { get; }
}
