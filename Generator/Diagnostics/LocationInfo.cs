using System;
using System.Collections.Generic;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Tessera.Generator.Diagnostics;

/// <summary>
/// A source location as plain data, so models stay equatable and hold no syntax trees. Diagnostics found after the
/// front end (a shape mismatch found with a config's sizes) are reported here.
/// A location inside a [Model] class or [Compile] unit is held relative to that class (its <see cref="Anchor"/>):
/// an edit above the class moves every absolute position but leaves the model equal, so the generator's emit steps
/// stay cached; <see cref="ToLocation"/> adds the class's current position back when a diagnostic is reported.
/// </summary>
/// <param name="FilePath">the syntax tree's path</param>
/// <param name="Start">span start (from the anchor's start when anchored)</param>
/// <param name="Length">span length</param>
/// <param name="StartLine">zero-based line of the start (from the anchor's line when anchored)</param>
/// <param name="StartColumn">zero-based column of the start</param>
/// <param name="EndLine">zero-based line of the end (from the anchor's line when anchored)</param>
/// <param name="EndColumn">zero-based column of the end</param>
/// <param name="Anchor">the key of the class the position is relative to, or null for an absolute position</param>
internal sealed record LocationInfo(string FilePath, int Start, int Length, int StartLine, int StartColumn, int EndLine, int EndColumn, string? Anchor = null)
{
    [ThreadStatic] private static AnchorInfo? _anchor;

    public static LocationInfo? From(SyntaxNode? node) => node is null ? null : From(node.GetLocation());

    public static LocationInfo? From(Location? location)
    {
        if (location is null || location.SourceTree is null) return null;
        var span = location.GetLineSpan();
        string path = location.SourceTree.FilePath;
        var (start, line, anchor) = _anchor is { } a && a.FilePath == path ? (a.Start, a.Line, a.Key) : (0, 0, (string?)null);
        return new LocationInfo(path, location.SourceSpan.Start - start, location.SourceSpan.Length,
            span.StartLinePosition.Line - line, span.StartLinePosition.Character, span.EndLinePosition.Line - line, span.EndLinePosition.Character, anchor);
    }

    /// <summary>
    /// Until disposed, locations made on this thread in <paramref name="anchor"/>'s file are relative to it (a parser
    /// reads one class on one thread, synchronously).
    /// </summary>
    public static IDisposable RelativeTo(AnchorInfo anchor)
    {
        var previous = _anchor;
        _anchor = anchor;
        return new Restore(previous);
    }

    /// <summary>The absolute location, the anchor's current position added back.</summary>
    public Location ToLocation(IReadOnlyDictionary<string, AnchorInfo> anchors)
    {
        var (start, line) = Anchor is not null && anchors.TryGetValue(Anchor, out var a) ? (a.Start, a.Line) : (0, 0);
        return Location.Create(FilePath, new TextSpan(Start + start, Length),
            new LinePositionSpan(new LinePosition(StartLine + line, StartColumn), new LinePosition(EndLine + line, EndColumn)));
    }

    private sealed class Restore(AnchorInfo? previous) : IDisposable
    {
        public void Dispose() => _anchor = previous;
    }
}

/// <summary>Where a [Model] class or [Compile] unit starts now: what its anchored locations are relative to.</summary>
/// <param name="Key">"model " or "unit " and the class's metadata name</param>
internal sealed record AnchorInfo(string Key, string FilePath, int Start, int Line)
{
    public static AnchorInfo Of(string key, SyntaxNode node)
    {
        var location = node.GetLocation();
        return new AnchorInfo(key, location.SourceTree?.FilePath ?? "", location.SourceSpan.Start, location.GetLineSpan().StartLinePosition.Line);
    }

    public static string ModelKey(string metadataName) => "model " + metadataName;

    public static string UnitKey(string metadataName) => "unit " + metadataName;
}
