using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Tessera.Generator.Constants;
using Tessera.Generator.Diagnostics;
using Tessera.Generator.Helpers;

namespace Tessera.Generator.FrontEnd;

/// <summary>The front end for [Compile(typeof(M), Config = "...")] units.</summary>
internal static class CompileUnitParser
{
    /// <summary>A [Compile] unit, its locations held relative to the class (see <see cref="LocationInfo"/>).</summary>
    public static CompileUnitInfo? Parse(GeneratorAttributeSyntaxContext context, CancellationToken token)
    {
        using var anchored = LocationInfo.RelativeTo(Anchor(context));
        return ParseUnit(context, token);
    }

    /// <summary>Where a [Compile] unit starts: what its locations are relative to.</summary>
    public static AnchorInfo Anchor(GeneratorAttributeSyntaxContext context) =>
        AnchorInfo.Of(AnchorInfo.UnitKey(context.TargetSymbol.ToDisplayString()), context.TargetNode);

    private static CompileUnitInfo? ParseUnit(GeneratorAttributeSyntaxContext context, CancellationToken token)
    {
        var type = (INamedTypeSymbol)context.TargetSymbol;
        var syntax = (ClassDeclarationSyntax)context.TargetNode;
        var attribute = context.Attributes[0];
        var diagnostics = new List<DiagnosticInfo>();
        var attributeSyntax = attribute.ApplicationSyntaxReference?.GetSyntax(token) as AttributeSyntax;
        var arguments = attributeSyntax?.ArgumentList?.Arguments ?? default;
        LocationInfo? Argument(string? name) =>
            LocationInfo.From(arguments.FirstOrDefault(a => name is null ? a.NameEquals is null : a.NameEquals?.Name.Identifier.ValueText == name)?.Expression
                              ?? (SyntaxNode?)attributeSyntax);

        var modelLocation = Argument(null);
        var model = attribute.ConstructorArguments.FirstOrDefault().Value as INamedTypeSymbol;
        string modelName = model?.ToDisplayString() ?? "?";
        if (model is null || !model.GetAttributes().Any(a => a.AttributeClass?.ToDisplayString() == WellKnownNames.ModelAttribute))
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.CompileTargetNotModel, modelLocation, modelName));
        if (!syntax.Modifiers.Any(SyntaxKind.PartialKeyword))
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.MustBePartial, LocationInfo.From(syntax.Identifier.GetLocation()), type.Name));

        int Int(string name, int fallback) => attribute.NamedArguments.FirstOrDefault(a => a.Key == name).Value.Value is int v ? v : fallback;
        string? Text(string name) => attribute.NamedArguments.FirstOrDefault(a => a.Key == name).Value.Value as string;
        var locations = new[] { "Data", "Pipeline", "Tensor", "Expert", "Sequence", "MicroBatches", "LayersPerStage", "DeviceMemory" }
            .Select(n => new ArgumentLocation(n, Argument(n) ?? LocationInfo.From(attributeSyntax)));
        var plan = new PlanInfo(Int("Data", 1), Int("Pipeline", 1), Int("Tensor", 1), Int("MicroBatches", 1),
            Text("LayersPerStage"), Text("DeviceMemory"), locations.ToEquatableArray(), Int("Expert", 1), Int("Sequence", 1));
        string? config = attribute.NamedArguments.FirstOrDefault(a => a.Key == "Config").Value.Value as string;
        var configLocation = Argument("Config") ?? LocationInfo.From(attributeSyntax);
        if (config is null)
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ConfigFileNotFound, configLocation, "(none: set Config = \"path/to/config.json\")"));

        var unit = new TypeLocationInfo(
            type.ContainingNamespace.IsGlobalNamespace ? "" : type.ContainingNamespace.ToDisplayString(),
            type.Name,
            type.DeclaredAccessibility == Accessibility.Public ? "public" : "internal");
        return new CompileUnitInfo(unit, modelName, config, plan, configLocation, modelLocation, diagnostics.ToEquatableArray());
    }
}
