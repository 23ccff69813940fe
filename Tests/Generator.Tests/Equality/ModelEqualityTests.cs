using Microsoft.CodeAnalysis;
using Tessera.Generator.Constants;
using Tessera.Generator.FrontEnd;
using Tessera.Generator.Tests.Infrastructure;

namespace Tessera.Generator.Tests.Equality;

/// <summary>The models passed between pipeline stages compare by value: two independent parses of the same source are equal.</summary>
public sealed class ModelEqualityTests
{
    private static ModelResult[] Parse() =>
        ModelSources.RunZoo().Result.Results.Single().TrackedSteps[TrackingNames.Models]
            .SelectMany(s => s.Outputs).Select(o => (ModelResult)o.Value).OrderBy(m => m.MetadataName).ToArray();

    [Fact]
    public void TwoParsesOfTheZoo_GiveEqualModels()
    {
        var first = Parse();
        var second = Parse();

        Assert.Equal(11, first.Length); // Gemma2, Gemma3, Gpt2, Llama, Mistral, Mixtral, Phi3, Qwen2, Qwen2Moe, Qwen3, Qwen3Moe
        for (int i = 0; i < first.Length; i++)
        {
            Assert.NotSame(first[i], second[i]);
            Assert.Equal(first[i], second[i]);
            Assert.True(first[i] == second[i]);
            Assert.Equal(first[i].GetHashCode(), second[i].GetHashCode());
            Assert.Equal(first[i].Model!.Root.Forward, second[i].Model!.Root.Forward);
            Assert.Equal(first[i].Model!.Blocks, second[i].Model!.Blocks);
        }
    }

    [Fact]
    public void ModelsHoldNoRoslynObjects()
    {
        var types = typeof(ModelInfo).Assembly.GetTypes().Where(t => t.Namespace == typeof(ModelInfo).Namespace && t.IsClass && t.GetMethod("<Clone>$") is not null);
        foreach (var type in types)
            foreach (var property in type.GetProperties())
                Assert.False(typeof(ISymbol).IsAssignableFrom(property.PropertyType) || typeof(SyntaxNode).IsAssignableFrom(property.PropertyType)
                             || typeof(Location).IsAssignableFrom(property.PropertyType) || typeof(Compilation).IsAssignableFrom(property.PropertyType),
                    $"{type.Name}.{property.Name} holds a Roslyn object");
    }
}
