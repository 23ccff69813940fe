namespace Tessera.Models;

/// <summary>Which generated engine runs a checkpoint.</summary>
public enum EngineKind
{
    /// <summary>The shape-generic engine of the checkpoint's architecture: sizes from its config.json, any plan at run time.</summary>
    Generic,

    /// <summary>A [Compile] unit built for exactly this config (the bundled tiny models have one), its plan folded.</summary>
    Specialised,
}
