using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Tessera.Generator.Diagnostics;

/// <summary>
/// A source location as plain data, so models stay equatable and hold no syntax trees. Diagnostics found after the
/// front end (a shape mismatch found with a config's sizes) are reported here.
/// </summary>
/// <param name="FilePath">the syntax tree's path</param>
/// <param name="Start">span start</param>
/// <param name="Length">span length</param>
/// <param name="StartLine">zero-based line of the start</param>
/// <param name="StartColumn">zero-based column of the start</param>
/// <param name="EndLine">zero-based line of the end</param>
/// <param name="EndColumn">zero-based column of the end</param>
internal sealed record LocationInfo(string FilePath, int Start, int Length, int StartLine, int StartColumn, int EndLine, int EndColumn)
{
    public static LocationInfo? From(SyntaxNode? node) => node is null ? null : From(node.GetLocation());

    public static LocationInfo? From(Location? location)
    {
        if (location is null || location.SourceTree is null) return null;
        var span = location.GetLineSpan();
        return new LocationInfo(location.SourceTree.FilePath, location.SourceSpan.Start, location.SourceSpan.Length,
            span.StartLinePosition.Line, span.StartLinePosition.Character, span.EndLinePosition.Line, span.EndLinePosition.Character);
    }

    public Location ToLocation() =>
        Location.Create(FilePath, new TextSpan(Start, Length),
            new LinePositionSpan(new LinePosition(StartLine, StartColumn), new LinePosition(EndLine, EndColumn)));
}
