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
            [Architecture("Llama"), Architecture("Gpt2"), Architecture("Mixtral"), Architecture("Specialised")],
            [Config("tiny-llama"), Config("tiny-gpt2"), Config("tiny-mixtral")]);
}
