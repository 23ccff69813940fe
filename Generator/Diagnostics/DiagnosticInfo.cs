using System.Collections.Generic;
using Microsoft.CodeAnalysis;
using Tessera.Generator.Helpers;

namespace Tessera.Generator.Diagnostics;

/// <summary>A diagnostic as equatable data, carried through the pipeline and reported at the end.</summary>
/// <param name="Id">the descriptor's id (TSR....)</param>
/// <param name="Location">where, or null for the compilation</param>
/// <param name="Arguments">the message arguments, already stringified</param>
internal sealed record DiagnosticInfo(string Id, LocationInfo? Location, EquatableArray<string> Arguments)
{
    public static DiagnosticInfo Create(DiagnosticDescriptor descriptor, LocationInfo? location, params string[] arguments) =>
        new(descriptor.Id, location, new EquatableArray<string>(arguments));

    /// <param name="anchors">where the [Model] classes and [Compile] units are now, by key (anchored locations are relative to them)</param>
    public Diagnostic ToDiagnostic(IReadOnlyDictionary<string, AnchorInfo> anchors) =>
        Diagnostic.Create(DiagnosticDescriptors.ById(Id), Location?.ToLocation(anchors), Arguments.ToArray<object>());
}

internal static class DiagnosticArrayExtensions
{
    public static object[] ToArray<T>(this EquatableArray<string> items)
    {
        var result = new object[items.Length];
        for (int i = 0; i < items.Length; i++) result[i] = items[i];
        return result;
    }
}
