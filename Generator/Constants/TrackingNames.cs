namespace Tessera.Generator.Constants;

/// <summary>Names of the incremental pipeline's steps, so tests can check which ones re-ran after an edit.</summary>
internal static class TrackingNames
{
    public const string Models = nameof(Models);
    public const string CompileUnits = nameof(CompileUnits);
    public const string ConfigFiles = nameof(ConfigFiles);
    public const string GenericEngines = nameof(GenericEngines);
    public const string SpecialisedEngines = nameof(SpecialisedEngines);
    public const string Anchors = nameof(Anchors);
}
