using Tessera.Checkpoints;

namespace Tessera.Models;

/// <summary>Which generated engine runs a checkpoint.</summary>
public enum EngineKind
{
    /// <summary>The shape-generic engine of the checkpoint's architecture: sizes from its config.json.</summary>
    Generic,

    /// <summary>A [Compile] unit built for exactly this config (the bundled tiny models have one).</summary>
    Specialised,
}

/// <summary>The architectures this assembly compiles, by Hugging Face model_type, and their engines.</summary>
public static class EngineCatalog
{
    private sealed record Architecture(string ModelType, Func<Checkpoint, ITransformerEngine> Generic, Func<Checkpoint, ITransformerEngine>[] Specialised);

    private static readonly Architecture[] Architectures =
    [
        new("llama", c => new Llama.Engine(c), [c => new TinyLlama(c)]),
        new("gpt2", c => new Gpt2.Engine(c), [c => new TinyGpt2(c)]),
    ];

    public static IEnumerable<string> ModelTypes => Architectures.Select(a => a.ModelType);

    /// <summary>The folder of a bundled checkpoint ("tiny-llama", "tiny-gpt2"), next to the executable.</summary>
    public static string Bundled(string name) => Path.Combine(AppContext.BaseDirectory, "Checkpoints", name);

    public static ITransformerEngine Open(string directory, EngineKind kind = EngineKind.Generic)
    {
        using var checkpoint = Checkpoint.Open(directory);
        string modelType = checkpoint.Config.GetString("model_type")
            ?? throw new CheckpointException($"{checkpoint.Config.Path}: no \"model_type\", so the architecture is unknown (supported: {string.Join(", ", ModelTypes)}).");
        var architecture = Architectures.FirstOrDefault(a => a.ModelType == modelType)
            ?? throw new CheckpointException($"{checkpoint.Config.Path}: model_type \"{modelType}\" is not supported (supported: {string.Join(", ", ModelTypes)}).");
        if (kind == EngineKind.Generic) return architecture.Generic(checkpoint);

        var errors = new List<string>();
        foreach (var specialised in architecture.Specialised)
        {
            try
            {
                return specialised(checkpoint);
            }
            catch (CheckpointException e)
            {
                errors.Add(e.Message);
            }
        }
        throw new CheckpointException($"No specialised engine was compiled for this checkpoint's config: {string.Join(" / ", errors)}");
    }
}
