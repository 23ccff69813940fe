using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Tessera.Generator.Constants;
using Tessera.Generator.Diagnostics;
using Tessera.Generator.Emit;
using Tessera.Generator.FrontEnd;
using Tessera.Generator.Helpers;
using Tessera.Generator.Passes;

namespace Tessera.Generator;

/// <summary>
/// The Tessera transformer compiler. <see cref="Initialize"/> is its table of contents:
/// <list type="number">
/// <item>front end: [Model] classes and [Compile] units to equatable models; config.json files from AdditionalFiles;</item>
/// <item>passes (<see cref="CompiledModel"/>): IR graph, shape inference, fusion, buffer planning;</item>
/// <item>emit: a shape-generic engine per model, a specialised engine per [Compile] unit.</item>
/// </list>
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class TransformerGenerator : IIncrementalGenerator
{
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        // 1. Front end.
        var models = context.SyntaxProvider
            .ForAttributeWithMetadataName(WellKnownNames.ModelAttribute, static (node, _) => node is ClassDeclarationSyntax, ModelParser.Parse)
            .WithTrackingName(TrackingNames.Models);

        var units = context.SyntaxProvider
            .ForAttributeWithMetadataName(WellKnownNames.CompileAttribute, static (node, _) => node is ClassDeclarationSyntax, CompileUnitParser.Parse)
            .Where(static unit => unit is not null)
            .Select(static (unit, _) => unit!)
            .WithTrackingName(TrackingNames.CompileUnits);

        var configs = context.AdditionalTextsProvider
            .Where(static file => file.Path.EndsWith(".json", System.StringComparison.OrdinalIgnoreCase))
            .Select(static (file, token) => new ConfigFileInfo(file.Path, file.GetText(token)?.ToString() ?? ""))
            .Collect()
            .WithTrackingName(TrackingNames.ConfigFiles);

        // 2 + 3. Passes and emit: a generic engine for every model that parsed.
        var generic = models
            .Select(static (result, token) => EmitGeneric(result, token))
            .WithTrackingName(TrackingNames.GenericEngines);

        // A [Compile] unit needs its model and its config: select them down before the emit so that an unrelated
        // edit leaves the unit's inputs (and so its output) equal.
        var specialised = units
            .Combine(models.Collect())
            .Select(static (pair, _) => (Unit: pair.Left, Model: pair.Right.FirstOrDefault(m => m.MetadataName == pair.Left.ModelMetadataName)))
            .Combine(configs)
            .Select(static (input, token) => EmitSpecialised(input.Left.Unit, input.Left.Model, input.Right, token))
            .WithTrackingName(TrackingNames.SpecialisedEngines);

        // Where each [Model] class and [Compile] unit starts now. The models hold their locations relative to these, so
        // an edit above a class leaves its model (and the emit steps) cached; reporting adds the current start back.
        var anchors = context.SyntaxProvider
            .ForAttributeWithMetadataName(WellKnownNames.ModelAttribute, static (node, _) => node is ClassDeclarationSyntax, static (c, _) => ModelParser.Anchor(c))
            .Collect()
            .Combine(context.SyntaxProvider
                .ForAttributeWithMetadataName(WellKnownNames.CompileAttribute, static (node, _) => node is ClassDeclarationSyntax, static (c, _) => CompileUnitParser.Anchor(c))
                .Collect())
            .Select(static (pair, _) => pair.Left.Concat(pair.Right).ToEquatableArray())
            .WithTrackingName(TrackingNames.Anchors);

        context.RegisterSourceOutput(generic.Combine(anchors), static (spc, pair) => pair.Left.AddTo(spc, pair.Right));
        context.RegisterSourceOutput(specialised.Combine(anchors), static (spc, pair) => pair.Left.AddTo(spc, pair.Right));
    }

    private static GeneratedFile EmitGeneric(ModelResult result, CancellationToken token)
    {
        if (result.Model is null)
            return new GeneratedFile(null, null, result.Diagnostics);
        token.ThrowIfCancellationRequested();
        var diagnostics = new List<DiagnosticInfo>(result.Diagnostics);
        var compiled = CompiledModel.Compile(result.Model, sizes: null, configPath: null, diagnostics);
        var context = new EngineWriter.EngineContext(compiled, SizeBinding.Generic, "Engine",
            $"The shape-generic engine of <see cref=\"{result.Model.Type.Name}\"/>: sizes bind from config.json at load time, so one build runs any checkpoint of this architecture.");
        return new GeneratedFile($"{result.Model.Type.MetadataName}.Engine.g.cs", SourceFiles.GenericEngine(context), diagnostics.ToEquatableArray());
    }

    /// <summary>
    /// A unit's bound values as numbers, for the passes' evaluations: sizes as they are, bools as 1 and 0, a per-layer
    /// field's values as "Name[i]" entries (a RoPE scaling is no number).
    /// </summary>
    private static Dictionary<string, double> Numeric(Dictionary<string, object> sizes)
    {
        var numeric = new Dictionary<string, double>();
        static double? Number(object v) => v switch { double d => d, bool b => b ? 1 : 0, _ => null };
        foreach (var pair in sizes)
        {
            if (pair.Value is object[] perLayer)
            {
                for (int i = 0; i < perLayer.Length; i++)
                    if (Number(perLayer[i]) is { } element) numeric[$"{pair.Key}[{i}]"] = element;
            }
            else if (Number(pair.Value) is { } value)
            {
                numeric[pair.Key] = value;
            }
        }
        return numeric;
    }

    private static GeneratedFile EmitSpecialised(CompileUnitInfo unit, ModelResult? model, ImmutableArray<ConfigFileInfo> configs, CancellationToken token)
    {
        var diagnostics = new List<DiagnosticInfo>(unit.Diagnostics);
        // A model that exists but has errors has reported them already; a unit of it emits nothing more.
        if (diagnostics.Count > 0 || model?.Model is null)
            return new GeneratedFile(null, null, diagnostics.ToEquatableArray());
        token.ThrowIfCancellationRequested();

        var sizes = ConfigBinder.Bind(model.Model, unit, configs, diagnostics);
        if (sizes is null)
            return new GeneratedFile(null, null, diagnostics.ToEquatableArray());
        var numeric = Numeric(sizes);
        var compiled = CompiledModel.Compile(model.Model, numeric, unit.ConfigPath, diagnostics);
        if (diagnostics.Count > 0)
            return new GeneratedFile(null, null, diagnostics.ToEquatableArray());
        var plan = PlanValidation.Validate(unit.Plan, BoundFacts.Compute(compiled, numeric), model.Model.Type.Name, diagnostics);
        if (plan is null || diagnostics.Count > 0)
            return new GeneratedFile(null, null, diagnostics.ToEquatableArray());

        string planText = unit.Plan.IsSingleDevice ? ""
            : plan.Expert == 1 && plan.Sequence == 1 ? $", folded into a plan of {plan.Data} x {plan.Pipeline} x {plan.Tensor} (data x pipeline x tensor) devices with {plan.MicroBatches} micro-batch(es)"
            : $", folded into a plan of {plan.Data} x {plan.Pipeline} x {plan.Sequence} x {plan.Expert} x {plan.Tensor} (data x pipeline x sequence x expert x tensor) devices with {plan.MicroBatches} micro-batch(es)";
        var context = new EngineWriter.EngineContext(compiled, SizeBinding.Specialised(sizes), unit.Type.Name,
            $"A specialised engine of <see cref=\"{model.Model.Type.FullyQualifiedName}\"/> for \"{unit.ConfigPath}\": every size is a constant{planText}.", plan);
        return new GeneratedFile($"{unit.Type.MetadataName}.g.cs", SourceFiles.SpecialisedEngine(context, unit.Type), diagnostics.ToEquatableArray());
    }
}

/// <summary>The output of one emit step: a source file (or none) and the diagnostics found on the way.</summary>
/// <param name="HintName">the stable hint name, e.g. "Tessera.Models.Llama.Engine.g.cs"</param>
/// <param name="Source">the text</param>
/// <param name="Diagnostics">what to report</param>
internal sealed record GeneratedFile(string? HintName, string? Source, EquatableArray<DiagnosticInfo> Diagnostics)
{
    /// <param name="anchors">where the [Model] classes and [Compile] units are now</param>
    public void AddTo(SourceProductionContext context, EquatableArray<AnchorInfo> anchors)
    {
        if (Diagnostics.Length > 0)
        {
            var byKey = new Dictionary<string, AnchorInfo>();
            foreach (var anchor in anchors) byKey[anchor.Key] = anchor;
            foreach (var diagnostic in Diagnostics) context.ReportDiagnostic(diagnostic.ToDiagnostic(byKey));
        }
        if (HintName is not null && Source is not null) context.AddSource(HintName, Source);
    }
}
