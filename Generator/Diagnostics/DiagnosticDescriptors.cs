using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;

namespace Tessera.Generator.Diagnostics;

/// <summary>
/// Every diagnostic the generator reports, with stable ids. The next id is the highest in
/// AnalyzerReleases.*.md plus one; ids are never reused; each one has a test that compiles a bad snippet.
/// </summary>
internal static class DiagnosticDescriptors
{
    private const string Category = "Tessera";
    private const string HelpLink = "https://github.com/tessera-compiler/tessera/blob/main/docs/diagnostics.md";

    /// <summary>Format: "<c>{0}</c> is not in the Tessera op vocabulary ..." — an expression in Forward the generator cannot lower.</summary>
    public static readonly DiagnosticDescriptor UnsupportedExpression = new(
        id: "TSR0001",
        title: "Expression outside the op vocabulary",
        messageFormat: "'{0}' is not in the Tessera op vocabulary: a Forward body may call module fields, the methods of Tessera.Ops and a block's Forward, and combine tensors with + and *",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        description: "Forward bodies are compiled, not executed, so they may only use constructs the generator can lower to kernels.",
        helpLinkUri: HelpLink);

    /// <summary>Format: "A Forward body may not contain <c>{0}</c> ..." — a statement kind the generator cannot lower.</summary>
    public static readonly DiagnosticDescriptor UnsupportedStatement = new(
        id: "TSR0002",
        title: "Statement outside the Forward vocabulary",
        messageFormat: "A Forward body may not contain a {0}: use local declarations, assignments (=, +=, *=), 'foreach' over a [Layers] field and 'return'",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpLink);

    /// <summary>Format: "{0} expects {1} but is given {2}" — shape inference with a config's sizes found a mismatch.</summary>
    public static readonly DiagnosticDescriptor ShapeMismatch = new(
        id: "TSR0003",
        title: "Shapes cannot agree",
        messageFormat: "Shapes cannot agree: {0} expects {1} but is given {2} (config '{3}')",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        description: "Shape inference runs with the sizes of the [Compile] unit's config file; the model as written cannot run with them.",
        helpLinkUri: HelpLink);

    /// <summary>Format: "The config file '{0}' is not among the project's AdditionalFiles".</summary>
    public static readonly DiagnosticDescriptor ConfigFileNotFound = new(
        id: "TSR0004",
        title: "Config file not found",
        messageFormat: "The config file '{0}' is not among the project's AdditionalFiles: add <AdditionalFiles Include=\"{0}\" /> to the project",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpLink);

    /// <summary>Format: "The config file '{0}' is malformed: {1}".</summary>
    public static readonly DiagnosticDescriptor ConfigFileMalformed = new(
        id: "TSR0005",
        title: "Malformed config file",
        messageFormat: "The config file '{0}' is malformed: {1}",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpLink);

    /// <summary>Format: "The config file '{0}' has no usable '{1}', which the model needs for {2}".</summary>
    public static readonly DiagnosticDescriptor ConfigKeyMissing = new(
        id: "TSR0006",
        title: "Config key missing",
        messageFormat: "The config file '{0}' has no usable \"{1}\", which model '{2}' needs for its field {3}",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpLink);

    /// <summary>Format: "[Compile] names '{0}', which is not a [Model] class".</summary>
    public static readonly DiagnosticDescriptor CompileTargetNotModel = new(
        id: "TSR0007",
        title: "[Compile] of a type that is not a model",
        messageFormat: "[Compile] names '{0}', which is not a [Model] class of this compilation",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpLink);

    /// <summary>Format: "'{0}' must be declared partial ...".</summary>
    public static readonly DiagnosticDescriptor MustBePartial = new(
        id: "TSR0008",
        title: "Type must be partial",
        messageFormat: "'{0}' must be declared partial so that the generator can add its engine",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpLink);

    /// <summary>Format: "Field '{0}': {1}" — a module, layer or config declaration the generator cannot use.</summary>
    public static readonly DiagnosticDescriptor InvalidDeclaration = new(
        id: "TSR0009",
        title: "Invalid model declaration",
        messageFormat: "'{0}': {1}",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpLink);

    /// <summary>Format: "'{0}' has no Forward method ...".</summary>
    public static readonly DiagnosticDescriptor MissingForward = new(
        id: "TSR0010",
        title: "Missing Forward",
        messageFormat: "'{0}' has no 'Tensor Forward(Tensor ..., KvCache cache)' method for the generator to compile",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpLink);

    /// <summary>Format: "The config file '{0}' gives {1} = {2}, which cannot be used: {3}".</summary>
    public static readonly DiagnosticDescriptor InvalidConfigValue = new(
        id: "TSR0011",
        title: "Invalid config value",
        messageFormat: "The config file '{0}' gives {1} = {2}, which cannot be used: {3}",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpLink);

    /// <summary>Format: "tp = {0} does not divide {1}; degrees that work: {2}".</summary>
    public static readonly DiagnosticDescriptor TensorDegreeDoesNotDivide = new(
        id: "TSR0012",
        title: "Tensor degree does not divide the sharded sizes",
        messageFormat: "Tensor = {0} does not divide {1}; degrees that work: {2}",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpLink);

    /// <summary>Format: "Pipeline = {0} stages but the model has {1} layers ...".</summary>
    public static readonly DiagnosticDescriptor MoreStagesThanLayers = new(
        id: "TSR0013",
        title: "More pipeline stages than layers",
        messageFormat: "Pipeline = {0} stages but '{1}' has {2} layers with this config: every stage needs at least one layer",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpLink);

    /// <summary>Format: "{0} = {1}: {2}" — a degree or micro-batch count that is not at least 1.</summary>
    public static readonly DiagnosticDescriptor InvalidDegree = new(
        id: "TSR0014",
        title: "Invalid plan degree",
        messageFormat: "{0} = {1}: {2}",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpLink);

    /// <summary>Format: "The layer split '{0}' {1}".</summary>
    public static readonly DiagnosticDescriptor InvalidLayerSplit = new(
        id: "TSR0015",
        title: "Invalid hand-given layer split",
        messageFormat: "The layer split \"{0}\" {1}: give one entry per stage, each at least 1, placing every layer exactly once, in order",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpLink);

    /// <summary>Format: "A device needs {0} but has {1}: {2}".</summary>
    public static readonly DiagnosticDescriptor DeviceMemoryExceeded = new(
        id: "TSR0016",
        title: "Plan exceeds the device memory",
        messageFormat: "A device needs {0} but DeviceMemory is {1}: {2}",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpLink);

    /// <summary>Format: "Route picks {0} = {1} experts per token but needs between 1 and {2}" — a router's top-k out of range.</summary>
    public static readonly DiagnosticDescriptor TopKOutOfRange = new(
        id: "TSR0017",
        title: "Router top-k out of range",
        messageFormat: "Route picks {0} = {1} experts per token, but top-k routing needs at least 1 and at most the layer's experts ({2}) (config '{3}')",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        description: "Each token goes to its k most probable experts, so k must be between 1 and the number of experts of the layer.",
        helpLinkUri: HelpLink);

    /// <summary>Format: "Expert = {0} does not divide the {1} experts of '{2}' ({3}); degrees that work: {4}".</summary>
    public static readonly DiagnosticDescriptor ExpertDegreeDoesNotDivide = new(
        id: "TSR0018",
        title: "Expert degree does not divide the experts",
        messageFormat: "Expert = {0} does not divide the {1} experts of '{2}' ({3}); degrees that work: {4}",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        description: "Expert parallelism gives every expert rank the same number of whole experts.",
        helpLinkUri: HelpLink);

    /// <summary>Format: <c>'{0}' differs from layer to layer: {1}</c>.</summary>
    public static readonly DiagnosticDescriptor PerLayerValueMisplaced = new(
        id: "TSR0019",
        title: "Per-layer value where one value is needed",
        messageFormat: "'{0}' differs from layer to layer: {1}",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        description: "Layer and per-layer [Config] fields (arrays) can only be read in a block's Forward, and not as sizes (widths, head counts, top-k), which every layer shares.",
        helpLinkUri: HelpLink);

    public static IReadOnlyList<DiagnosticDescriptor> All { get; } =
        typeof(DiagnosticDescriptors).GetFields()
            .Where(f => f.FieldType == typeof(DiagnosticDescriptor))
            .Select(f => (DiagnosticDescriptor)f.GetValue(null)!)
            .ToArray();

    public static DiagnosticDescriptor ById(string id) => All.First(d => d.Id == id);
}
