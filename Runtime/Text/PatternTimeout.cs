using System.Text.RegularExpressions;
using Tessera.Checkpoints;

namespace Tessera.Text;

/// <summary>
/// Regexes from tokenizer files run with a time limit per match. A pattern such as <c>(a|aa)+$</c> backtracks
/// exponentially: 44 characters took over a minute and kept a server's cores busy after its clients left (issue 15).
/// The pattern is the tokenizer file's fault, so running out of time ends the encode as a <see cref="CheckpointException"/>
/// naming the file, the pattern and the length of the text it was matching.
/// </summary>
/// <remarks>
/// RegexOptions.NonBacktracking would make such patterns linear instead, but it has no lookarounds, and the GPT-2 and
/// Llama 3 patterns need <c>\s+(?!\S)</c>; one engine for all patterns keeps the results the same everywhere.
/// </remarks>
internal static class PatternTimeout
{
    /// <summary>
    /// The limit applies to each match, not to the whole text. Every position of a text starts a GPT-2 or Llama 3 match,
    /// which takes microseconds, so 2 s is out of reach of a sane pattern even on a loaded machine, and it bounds a
    /// hostile one to a couple of seconds of one core per match.
    /// </summary>
    public static readonly TimeSpan PerMatch = TimeSpan.FromSeconds(2);

    /// <summary>
    /// The error for a match that ran out of time; <paramref name="role"/> says which pattern ("pre-tokenizer"). The
    /// text's length is passed in because the exception of a span match (EnumerateMatches) holds no input.
    /// </summary>
    public static CheckpointException Error(string source, string role, RegexMatchTimeoutException timeout, int textLength) =>
        new($"{source}: the {role} pattern '{BpeTokenizer.Printable(timeout.Pattern, 200)}' took longer than " +
            $"{timeout.MatchTimeout.TotalSeconds:0.#} s on a {textLength}-character piece of text: it backtracks too much to be used.", timeout);
}
