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
        // Every [Config] field's name, an invalid one's too (reported already: its uses are not errors of their own).
        var declared = type.GetMembers().OfType<IFieldSymbol>().Where(f => Find(f, WellKnownNames.ConfigAttribute) is not null).ToList();
        var configNames = new HashSet<string>(declared.Select(f => f.Name));
        var layerNames = new HashSet<string>(declared.Where(f => f.Type is IArrayTypeSymbol).Select(f => f.Name));
        if (!configNames.Contains(contextField))
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidDeclaration, LocationInfo.From(syntax.Identifier.GetLocation()),
                type.Name, $"the context length names [Config] field '{contextField}', which does not exist (set [Model(ContextLength = ...)])"));

        var root = ReadModule(type, type, context.SemanticModel.Compilation, configNames, layerNames, diagnostics, token);
        var blocks = new List<ModuleInfo>();
        if (root?.Experts is { } misplaced)
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidDeclaration, misplaced.Location, misplaced.Name, "experts belong to a block of the [Layers] field (a mixture-of-experts layer), not to the model itself"));
        if (root?.Layers is { } layers)
        {
            var blockType = type.GetTypeMembers(layers.BlockType).FirstOrDefault();
            if (blockType is null)
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidDeclaration, layers.Location, layers.Name, "the block type must be nested in the model class"));
            else if (ReadModule(blockType, type, context.SemanticModel.Compilation, configNames, layerNames, diagnostics, token) is { } block)
            {
                blocks.Add(block);
                // A mixture-of-experts block: its experts are a module of their own, compiled like a block.
                if (block.Experts is { } experts && FindNested(blockType, type, experts.BlockType) is { } expertType
                    && ReadModule(expertType, type, context.SemanticModel.Compilation, configNames, layerNames, diagnostics, token) is { } expert)
                {
                    if (expert.Layers is not null || expert.Experts is not null)
                        diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidDeclaration, experts.Location, experts.Name, "an expert holds weights only: no [Layers] or [Experts] of its own"));
                    blocks.Add(expert);
                }
            }
        }

        foreach (var c in config)
        {
            CheckSizeExpression(c.Default, c.Name, c.Location, configNames, diagnostics, allowLiteral: true, layerNames: c.PerLayer ? null : layerNames);
            CheckSizeExpression(c.WhenNull, c.Name, c.Location, configNames, diagnostics, allowLiteral: true, layerNames: layerNames);
        }
        if (root is not null) CheckPerLayerUse(root, isBlock: false, layerNames, diagnostics);
        foreach (var block in blocks) CheckPerLayerUse(block, isBlock: true, layerNames, diagnostics);

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
            bool perLayer = field.Type is IArrayTypeSymbol;
            var valueType = field.Type is IArrayTypeSymbol array ? array.ElementType : field.Type;
            ConfigKind? kind = valueType.SpecialType switch
            {
                SpecialType.System_Int32 => ConfigKind.Int,
                SpecialType.System_Single => ConfigKind.Float,
                SpecialType.System_Boolean => ConfigKind.Bool,
                _ when !perLayer && valueType.ToDisplayString() == WellKnownNames.RopeScaling => ConfigKind.RopeScaling,
                _ => null,
            };
            if (kind is null)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidDeclaration, location, field.Name,
                    "a [Config] field must be an int, a float, a bool, a RopeScaling, or a per-layer array of int, float or bool"));
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
            bool positive = NamedBool(attribute, "Positive"), nonNegative = NamedBool(attribute, "NonNegative"), indices = NamedBool(attribute, "Indices");
            string? map = NamedString(attribute, "Map");
            string? problem =
                positive && nonNegative ? "Positive and NonNegative exclude each other"
                : (positive || nonNegative) && kind is not (ConfigKind.Int or ConfigKind.Float) ? "only a number can be Positive or NonNegative"
                : (map is not null || indices) && !perLayer ? "Map and Indices read a list: they belong to a per-layer (array) field"
                : indices && kind != ConfigKind.Bool ? "Indices gives a bool per layer: the field must be a bool[]"
                : map is not null && indices ? "Map and Indices exclude each other"
                : map is not null && map.Split('|').Any(e => e.Split('=').Length != 2 || e.Split('=').Any(p => p.Length == 0)) ? $"Map \"{map}\" should read text=value|text=value"
                : null;
            if (problem is not null)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidDeclaration, location, field.Name, problem));
                continue;
            }
            string? whenNull = NamedString(attribute, "WhenNull");
            if (whenNull is not null && (perLayer || kind == ConfigKind.RopeScaling))
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidDeclaration, location, field.Name, "WhenNull is for a single number or bool"));
                continue;
            }
            result.Add(new ConfigFieldInfo(field.Name, key, kind.Value, NamedString(attribute, "Default"), location, positive, nonNegative, perLayer, map, indices, whenNull));
        }
        return result;
    }

    private static ModuleInfo? ReadModule(INamedTypeSymbol type, INamedTypeSymbol model, Compilation compilation, HashSet<string> configNames, HashSet<string> layerNames,
        List<DiagnosticInfo> diagnostics, CancellationToken token)
    {
        var weights = new List<WeightFieldInfo>();
        LayersFieldInfo? layers = null;
        ExpertsFieldInfo? experts = null;
        foreach (var field in type.GetMembers().OfType<IFieldSymbol>())
        {
            var location = LocationInfo.From(field.Locations.FirstOrDefault());
            if (Find(field, WellKnownNames.WeightAttribute) is { } weight)
            {
                if (ReadWeight(field, weight, location, configNames, layerNames, diagnostics) is { } info) weights.Add(info);
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
        var program = ForwardReader.Read(forward, semantic, weights.Select(w => w.Name).ToList(), layers, experts, configNames, layerNames, diagnostics, token);
        return new ModuleInfo(type.Name, weights.ToEquatableArray(), layers, program, experts);
    }

    private static WeightFieldInfo? ReadWeight(IFieldSymbol field, AttributeData attribute, LocationInfo? location, HashSet<string> configNames, HashSet<string> layerNames,
        List<DiagnosticInfo> diagnostics)
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
        string? fusedOut = NamedString(attribute, "FusedOut"), fusedOffset = NamedString(attribute, "FusedOffset");
        bool perHead = NamedBool(attribute, "PerHead");
        float offset = attribute.NamedArguments.FirstOrDefault(a => a.Key == "Offset").Value.Value is float f ? f : 0f;
        if ((perHead || offset != 0) && !isNorm)
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidDeclaration, location, field.Name, "PerHead and Offset are options of a norm"));
        if ((fusedOut is null) != (fusedOffset is null) || (fusedOut is not null && kind != ModuleKind.Linear))
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidDeclaration, location, field.Name,
                "a part of a fused tensor is a Linear with both FusedOut (the stored rows) and FusedOffset (its first row)"));
        foreach (var size in new[] { @out, @in, fusedOut, fusedOffset })
            CheckSizeExpression(size, field.Name, location, configNames, diagnostics, layerNames: layerNames);
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
            @out, @in, bias, transposed, epsilon, NamedString(attribute, "TiedTo"), tiedWhen, sharding, location,
            perHead, offset == 0 ? null : offset.ToString("R", System.Globalization.CultureInfo.InvariantCulture) + "f", fusedOut, fusedOffset);
    }

    /// <summary>
    /// Checks that a size expression parses and names only [Config] fields; with <paramref name="layerNames"/>, none of
    /// those nor the layer (a size that must be the same in every layer); without, <c>Layer</c> may appear (a per-layer default).
    /// </summary>
    private static void CheckSizeExpression(string? text, string owner, LocationInfo? location, HashSet<string> configNames, List<DiagnosticInfo> diagnostics,
        bool allowLiteral = false, HashSet<string>? layerNames = null)
    {
        if (text is null) return;
        if (!IR.SizeExpr.TryParse(text, out var expression, out string? error))
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidDeclaration, location, owner, $"cannot read size expression \"{text}\": {error}"));
            return;
        }
        bool perLayerReported = false;
        foreach (var name in expression!.Names().Distinct())
        {
            if (layerNames is not null && (name == IR.SizeExpr.LayerName || layerNames.Contains(name)))
            {
                if (!perLayerReported)
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.PerLayerValueMisplaced, location, name, $"\"{text}\" of {owner} must be the same in every layer"));
                perLayerReported = true;
            }
            else if (!configNames.Contains(name) && name != IR.SizeExpr.LayerName && !(allowLiteral && (name == "true" || name == "false")))
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidDeclaration, location, owner, $"size expression \"{text}\" names '{name}', which is not a [Config] field"));
        }
    }

    /// <summary>The scalar arguments of each op that are sizes, by position: the same in every layer (buffers and weights are sized by them).</summary>
    private static readonly Dictionary<string, string[]> SizeArguments = new()
    {
        ["Rope"] = ["heads"],
        ["Attention"] = ["heads", "kvHeads"],
        ["Chunk"] = ["index", "count"],
        ["Route"] = ["k"],
    };

    /// <summary>
    /// A value that differs from layer to layer (Layer, a per-layer field) is known only in a block of the [Layers]
    /// field (or its experts), and never as a size: reported where it stands (TSR0019).
    /// </summary>
    private static void CheckPerLayerUse(ModuleInfo module, bool isBlock, HashSet<string> layerNames, List<DiagnosticInfo> diagnostics)
    {
        foreach (var step in module.Forward.Steps)
            for (int i = 0; i < step.Args.Length; i++)
            {
                if (!IR.SizeExpr.TryParse(step.Args[i], out var argument, out _)) continue;
                string? perLayer = argument!.Names().FirstOrDefault(n => n == IR.SizeExpr.LayerName || layerNames.Contains(n));
                if (perLayer is null) continue;
                if (!isBlock)
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.PerLayerValueMisplaced, step.Location, perLayer,
                        $"{module.TypeName}.Forward runs outside the layers; a per-layer value belongs to a block of the [Layers] field"));
                else if (step.Kind == StepKind.Op && SizeArguments.TryGetValue(step.Target, out var sizes) && i < sizes.Length)
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.PerLayerValueMisplaced, step.Location, perLayer,
                        $"{step.Target}'s {sizes[i]} is a size, the same in every layer"));
            }
    }

    private static bool NamedBool(AttributeData attribute, string name) =>
        attribute.NamedArguments.FirstOrDefault(a => a.Key == name).Value.Value is true;

    private static AttributeData? Find(ISymbol symbol, string metadataName) =>
        symbol.GetAttributes().FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == metadataName);

    private static string? NamedString(AttributeData attribute, string name) =>
        attribute.NamedArguments.FirstOrDefault(a => a.Key == name).Value.Value as string;
}
