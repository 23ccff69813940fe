namespace Tessera.Generator.Tests.Infrastructure;

/// <summary>The real model zoo and bundled configs, read from the repository so tests compile what users compile.</summary>
public static class ModelSources
{
    private static string Models => Path.Combine(GeneratorHarness.RepositoryRoot(), "Models");

    public static (string Path, string Text) Architecture(string name)
    {
        string path = Path.Combine(Models, "Architectures", name + ".cs");
        return (path, File.ReadAllText(path));
    }

    public static InMemoryAdditionalText Config(string fixture)
    {
        string path = Path.Combine(Models, "Checkpoints", fixture, "config.json");
        return new InMemoryAdditionalText(path, File.ReadAllText(path));
    }

    public static GeneratorRun RunZoo() =>
        GeneratorHarness.Run(
            [Architecture("Llama"), Architecture("Gpt2"), Architecture("Mixtral"), Architecture("Mistral"), Architecture("Qwen2"), Architecture("Qwen3"),
             Architecture("Qwen3Moe"), Architecture("Qwen2Moe"), Architecture("Gemma2"), Architecture("Gemma3"), Architecture("Phi3"), Architecture("Specialised")],
            [Config("tiny-llama"), Config("tiny-gpt2"), Config("tiny-mixtral"), Config("tiny-qwen3"), Config("tiny-gemma2"), Config("tiny-qwen3-moe")]);
}
