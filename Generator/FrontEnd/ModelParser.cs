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

/// <summary>
/// The front end for [Model] classes: reads [Config], [Weight], [Layers] and [Experts] fields and the Forward bodies (through
/// <see cref="ForwardReader"/>) into a <see cref="ModelInfo"/>. No Roslyn object survives past this class.
/// </summary>
internal static class ModelParser
{
    /// <summary>A [Model] class, its locations held relative to the class (see <see cref="LocationInfo"/>).</summary>
    public static ModelResult Parse(GeneratorAttributeSyntaxContext context, CancellationToken token)
    {
        using var anchored = LocationInfo.RelativeTo(Anchor(context));
        return ParseModel(context, token);
    }

    /// <summary>Where a [Model] class starts: what its locations are relative to.</summary>
    public static AnchorInfo Anchor(GeneratorAttributeSyntaxContext context) =>
        AnchorInfo.Of(AnchorInfo.ModelKey(context.TargetSymbol.ToDisplayString()), context.TargetNode);

    private static ModelResult ParseModel(GeneratorAttributeSyntaxContext context, CancellationToken token)
    {
        var type = (INamedTypeSymbol)context.TargetSymbol;
        var syntax = (ClassDeclarationSyntax)context.TargetNode;
        var diagnostics = new List<DiagnosticInfo>();
        string metadataName = type.ToDisplayString();

        if (!syntax.Modifiers.Any(SyntaxKind.PartialKeyword))
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.MustBePartial, LocationInfo.From(syntax.Identifier.GetLocation()), type.Name));
            return new ModelResult(metadataName, null, diagnostics.ToEquatableArray());
        }

        var attribute = context.Attributes[0];
        string? modelType = NamedString(attribute, "ModelType");
        string contextField = NamedString(attribute, "ContextLength") ?? "ContextLength";

        var config = ReadConfigFields(type, diagnostics);
        var configNames = new HashSet<string>(config.Select(c => c.Name));
        if (!configNames.Contains(contextField))
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidDeclaration, LocationInfo.From(syntax.Identifier.GetLocation()),
                type.Name, $"the context length names [Config] field '{contextField}', which does not exist (set [Model(ContextLength = ...)])"));

        var root = ReadModule(type, type, context.SemanticModel.Compilation, configNames, diagnostics, token);
        var blocks = new List<ModuleInfo>();
        if (root?.Experts is { } misplaced)
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidDeclaration, misplaced.Location, misplaced.Name, "experts belong to a block of the [Layers] field (a mixture-of-experts layer), not to the model itself"));
        if (root?.Layers is { } layers)
        {
            var blockType = type.GetTypeMembers(layers.BlockType).FirstOrDefault();
            if (blockType is null)
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidDeclaration, layers.Location, layers.Name, "the block type must be nested in the model class"));
            else if (ReadModule(blockType, type, context.SemanticModel.Compilation, configNames, diagnostics, token) is { } block)
            {
                blocks.Add(block);
                // A mixture-of-experts block: its experts are a module of their own, compiled like a block.
                if (block.Experts is { } experts && FindNested(blockType, type, experts.BlockType) is { } expertType
                    && ReadModule(expertType, type, context.SemanticModel.Compilation, configNames, diagnostics, token) is { } expert)
                {
                    if (expert.Layers is not null || expert.Experts is not null)
                        diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidDeclaration, experts.Location, experts.Name, "an expert holds weights only: no [Layers] or [Experts] of its own"));
                    blocks.Add(expert);
                }
            }
        }

        foreach (var c in config)
            CheckSizeExpression(c.Default, c.Name, c.Location, configNames, diagnostics, allowLiteral: true);

        if (root is null || diagnostics.Count > 0)
            return new ModelResult(metadataName, null, diagnostics.ToEquatableArray());

        var location = new TypeLocationInfo(
            type.ContainingNamespace.IsGlobalNamespace ? "" : type.ContainingNamespace.ToDisplayString(),
            type.Name,
            type.DeclaredAccessibility == Accessibility.Public ? "public" : "internal");
        var unsupported = (NamedString(attribute, "Unsupported") ?? "").Split(new[] { '|' }, System.StringSplitOptions.RemoveEmptyEntries).Select(k => k.Trim());
        var expects = (NamedString(attribute, "Expects") ?? "").Split(new[] { ';' }, System.StringSplitOptions.RemoveEmptyEntries).Select(e => e.Trim()).ToList();
        foreach (var e in expects.Where(e => e.IndexOf(':') <= 0))
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidDeclaration, LocationInfo.From(syntax.Identifier.GetLocation()), type.Name, $"Expects entry \"{e}\" should read key:value[,value]"));
        if (diagnostics.Count > 0)
            return new ModelResult(metadataName, null, diagnostics.ToEquatableArray());
        var model = new ModelInfo(location, modelType, contextField, config.ToEquatableArray(), root, blocks.ToEquatableArray(), unsupported.ToEquatableArray(), expects.ToEquatableArray());
        return new ModelResult(metadataName, model, diagnostics.ToEquatableArray());
    }

    /// <summary>Members of the generated engine that a [Config] field (which becomes a member of the same name) would clash with.</summary>
    private static readonly HashSet<string> ReservedNames = new()
    {
        "TensorDegree", "TensorRank", "FirstLayer", "EndLayer", "Stages", "Shape", "WeightBytes", "WorkspaceBytes",
        "Forward", "RunStage", "CreateCache", "Facts", "Load", "Schedule", "Plan", "EnsureWorkspace",
        "ExpertDegree", "ExpertRank", "FirstExpert", "EndExpert", "ExpertLoad",
    };

    /// <summary>A class nested in the block (or, failing that, in the model) by name.</summary>
    private static INamedTypeSymbol? FindNested(INamedTypeSymbol block, INamedTypeSymbol model, string name) =>
        block.GetTypeMembers(name).FirstOrDefault() ?? model.GetTypeMembers(name).FirstOrDefault();

    private static List<ConfigFieldInfo> ReadConfigFields(INamedTypeSymbol type, List<DiagnosticInfo> diagnostics)
    {
        var result = new List<ConfigFieldInfo>();
        foreach (var field in type.GetMembers().OfType<IFieldSymbol>())
        {
            var attribute = Find(field, WellKnownNames.ConfigAttribute);
            if (attribute is null) continue;
            var location = LocationInfo.From(field.Locations.FirstOrDefault());
            ConfigKind? kind = field.Type.SpecialType switch
            {
                SpecialType.System_Int32 => ConfigKind.Int,
                SpecialType.System_Single => ConfigKind.Float,
                SpecialType.System_Boolean => ConfigKind.Bool,
                _ => null,
            };
            if (kind is null)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidDeclaration, location, field.Name, "a [Config] field must be an int, a float or a bool"));
                continue;
            }
            if (ReservedNames.Contains(field.Name))
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidDeclaration, location, field.Name, "this name is taken by the generated engine; rename the field"));
                continue;
            }
            if (!field.IsStatic)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidDeclaration, location, field.Name, "a [Config] field must be static, so nested blocks can name it (it is bound per engine, not per class)"));
                continue;
            }
            string key = attribute.ConstructorArguments.FirstOrDefault().Value as string ?? "";
            bool positive = attribute.NamedArguments.FirstOrDefault(a => a.Key == "Positive").Value.Value is true;
            result.Add(new ConfigFieldInfo(field.Name, key, kind.Value, NamedString(attribute, "Default"), location, positive));
        }
        return result;
    }

    private static ModuleInfo? ReadModule(INamedTypeSymbol type, INamedTypeSymbol model, Compilation compilation, HashSet<string> configNames, List<DiagnosticInfo> diagnostics, CancellationToken token)
    {
        var weights = new List<WeightFieldInfo>();
        LayersFieldInfo? layers = null;
        ExpertsFieldInfo? experts = null;
        foreach (var field in type.GetMembers().OfType<IFieldSymbol>())
        {
            var location = LocationInfo.From(field.Locations.FirstOrDefault());
            if (Find(field, WellKnownNames.WeightAttribute) is { } weight)
            {
                if (ReadWeight(field, weight, location, configNames, diagnostics) is { } info) weights.Add(info);
            }
            else if (Find(field, WellKnownNames.LayersAttribute) is { } layersAttribute)
            {
                if (field.Type is not IArrayTypeSymbol { ElementType: INamedTypeSymbol element } || !SymbolEqualityComparer.Default.Equals(element.ContainingType, type))
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidDeclaration, location, field.Name, "a [Layers] field must be an array of a block class nested in the model"));
                    continue;
                }
                string count = NamedString(layersAttribute, "Count") ?? "LayerCount";
                if (!configNames.Contains(count))
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidDeclaration, location, field.Name, $"the layer count names [Config] field '{count}', which does not exist"));
                layers = new LayersFieldInfo(field.Name, element.Name, layersAttribute.ConstructorArguments.FirstOrDefault().Value as string ?? "", count, location);
            }
            else if (Find(field, WellKnownNames.ExpertsAttribute) is { } expertsAttribute)
            {
                if (field.Type is not IArrayTypeSymbol { ElementType: INamedTypeSymbol element }
                    || !(SymbolEqualityComparer.Default.Equals(element.ContainingType, type) || SymbolEqualityComparer.Default.Equals(element.ContainingType, model)))
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidDeclaration, location, field.Name, "an [Experts] field must be an array of an expert class nested in the block or the model"));
                    continue;
                }
                if (experts is not null)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidDeclaration, location, field.Name, $"a block has one [Experts] field ('{experts.Name}' already is)"));
                    continue;
                }
                string count = NamedString(expertsAttribute, "Count") ?? "ExpertCount";
                if (!configNames.Contains(count))
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidDeclaration, location, field.Name, $"the expert count names [Config] field '{count}', which does not exist"));
                experts = new ExpertsFieldInfo(field.Name, element.Name, expertsAttribute.ConstructorArguments.FirstOrDefault().Value as string ?? "", count, location);
            }
        }

        // Tied modules must name a module of the same class.
        foreach (var w in weights.Where(w => w.TiedTo is not null && weights.All(o => o.Name != w.TiedTo)))
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidDeclaration, w.Location, w.Name, $"TiedTo names '{w.TiedTo}', which is not a [Weight] field of {type.Name}"));

        var forward = type.GetMembers("Forward").OfType<IMethodSymbol>()
            .Select(m => m.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax(token))
            .OfType<MethodDeclarationSyntax>()
            .FirstOrDefault();
        if (forward is null)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.MissingForward, LocationInfo.From(type.Locations.FirstOrDefault()), type.Name));
            return null;
        }

        var semantic = compilation.GetSemanticModel(forward.SyntaxTree);
        var program = ForwardReader.Read(forward, semantic, weights.Select(w => w.Name).ToList(), layers, experts, configNames, diagnostics, token);
        return new ModuleInfo(type.Name, weights.ToEquatableArray(), layers, program, experts);
    }

    private static WeightFieldInfo? ReadWeight(IFieldSymbol field, AttributeData attribute, LocationInfo? location, HashSet<string> configNames, List<DiagnosticInfo> diagnostics)
    {
        ModuleKind? kind = field.Type.ContainingNamespace?.ToDisplayString() == WellKnownNames.Namespace ? field.Type.Name switch
        {
            "Embedding" => ModuleKind.Embedding,
            "PositionEmbedding" => ModuleKind.PositionEmbedding,
            "Linear" => ModuleKind.Linear,
            "RmsNorm" => ModuleKind.RmsNorm,
            "LayerNorm" => ModuleKind.LayerNorm,
            _ => null,
        } : null;
        if (kind is null)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidDeclaration, location, field.Name,
                $"'{field.Type.ToDisplayString()}' is not a module type (Embedding, PositionEmbedding, Linear, RmsNorm, LayerNorm)"));
            return null;
        }

        string? @out = NamedString(attribute, "Out");
        string? @in = NamedString(attribute, "In");
        string? epsilon = NamedString(attribute, "Epsilon");
        bool isNorm = kind is ModuleKind.RmsNorm or ModuleKind.LayerNorm;
        if (@in is null || (!isNorm && @out is null))
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidDeclaration, location, field.Name,
                isNorm ? "a norm needs its width: [Weight(..., In = \"...\")]" : "this module needs its shape: [Weight(..., Out = \"...\", In = \"...\")]"));
        if (isNorm && epsilon is null)
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidDeclaration, location, field.Name, "a norm needs its epsilon: [Weight(..., Epsilon = nameof(ConfigField))]"));
        CheckSizeExpression(@out, field.Name, location, configNames, diagnostics);
        CheckSizeExpression(@in, field.Name, location, configNames, diagnostics);
        if (epsilon is not null && !configNames.Contains(epsilon))
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidDeclaration, location, field.Name, $"Epsilon names '{epsilon}', which is not a [Config] field"));
        string? tiedWhen = NamedString(attribute, "TiedWhen");
        if (tiedWhen is not null && !configNames.Contains(tiedWhen))
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidDeclaration, location, field.Name, $"TiedWhen names '{tiedWhen}', which is not a [Config] field"));

        var sharding = Find(field, WellKnownNames.ColumnParallelAttribute) is not null ? Sharding.ColumnParallel
            : Find(field, WellKnownNames.RowParallelAttribute) is not null ? Sharding.RowParallel
            : Find(field, WellKnownNames.ReplicatedAttribute) is not null ? Sharding.Replicated
            : Sharding.Unspecified;
        bool transposed = attribute.NamedArguments.FirstOrDefault(a => a.Key == "Layout").Value.Value is int layout && layout == 1;
        bool bias = attribute.NamedArguments.FirstOrDefault(a => a.Key == "Bias").Value.Value is true;

        return new WeightFieldInfo(field.Name, kind.Value, attribute.ConstructorArguments.FirstOrDefault().Value as string ?? "",
            @out, @in, bias, transposed, epsilon, NamedString(attribute, "TiedTo"), tiedWhen, sharding, location);
    }

    /// <summary>Checks that a size expression parses and names only [Config] fields.</summary>
    private static void CheckSizeExpression(string? text, string owner, LocationInfo? location, HashSet<string> configNames, List<DiagnosticInfo> diagnostics, bool allowLiteral = false)
    {
        if (text is null) return;
        if (!IR.SizeExpr.TryParse(text, out var expression, out string? error))
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidDeclaration, location, owner, $"cannot read size expression \"{text}\": {error}"));
            return;
        }
        foreach (var name in expression!.Names())
            if (!configNames.Contains(name) && !(allowLiteral && (name == "true" || name == "false")))
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidDeclaration, location, owner, $"size expression \"{text}\" names '{name}', which is not a [Config] field"));
    }

    private static AttributeData? Find(ISymbol symbol, string metadataName) =>
        symbol.GetAttributes().FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == metadataName);

    private static string? NamedString(AttributeData attribute, string name) =>
        attribute.NamedArguments.FirstOrDefault(a => a.Key == name).Value.Value as string;
}
