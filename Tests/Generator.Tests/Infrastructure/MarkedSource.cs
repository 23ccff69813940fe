using Microsoft.CodeAnalysis.Text;

namespace Tessera.Generator.Tests.Infrastructure;

/// <summary>Source with one <c>[|...|]</c> marker: the span where a diagnostic is expected.</summary>
public sealed record MarkedSource(string Text, TextSpan Span)
{
    public static MarkedSource Parse(string marked)
    {
        int start = marked.IndexOf("[|", StringComparison.Ordinal);
        int end = marked.IndexOf("|]", StringComparison.Ordinal);
        if (start < 0 || end < start) throw new ArgumentException("The source needs one [|...|] marker.");
        string text = marked.Remove(end, 2).Remove(start, 2);
        return new MarkedSource(text, new TextSpan(start, end - start - 2));
    }
}
