using System.Text.Json.Nodes;
using Tessera.Text.Templates;

namespace Tessera.Runtime.Tests.Text.Templates;

/// <summary>
/// A seeded fuzz of the interpreter: the real templates with characters deleted, duplicated or replaced by template
/// syntax, rendered on real conversations. Whatever the damage, a template parses and renders, or fails with a
/// <see cref="TemplateException"/>: never another exception, never a hang.
/// </summary>
public sealed class TemplateFuzzTests
{
    private static readonly string[] Fragments = ["{{", "}}", "{%", "%}", "{#", "#}", "-", "(", ")", "[", "]", "{", "}", "'", "\"", "|", ".", ",", " if ", " else ",
        " for ", " in ", " not ", " is ", "**", "//", "~", "\\", "\n", "endfor", "endif", "loop", "ns.", "[::-1]", "1e999", "-1", "none", "raise_exception(", "caller()"];

    [Fact]
    public void MutatedRealTemplates_ParseAndRender_OrFailWithATemplateException()
    {
        string data = Path.Combine(AppContext.BaseDirectory, "Text", "Templates", "Data");
        var spec = JsonNode.Parse(File.ReadAllText(Path.Combine(data, "conversations.json")))!;
        var conversations = spec["conversations"]!.AsObject().Select(p => p.Value!.AsArray()).ToArray();
        var sources = new[] { "qwen3", "llama3_1", "gemma3", "deepseek_v3" }
            .Select(name => (string)JsonNode.Parse(File.ReadAllText(Path.Combine(data, name, "tokenizer_config.json")))!["chat_template"]!).ToArray();
        var limits = new TemplateLimits { MaxSteps = 100_000, MaxOutputChars = 1 << 20, Timeout = TimeSpan.FromSeconds(2) };
        var random = new Random(24);
        int rendered = 0, failed = 0;
        for (int i = 0; i < 3000; i++)
        {
            string source = sources[random.Next(sources.Length)];
            for (int edits = random.Next(1, 4); edits > 0; edits--)
            {
                int at = random.Next(source.Length);
                source = random.Next(3) switch
                {
                    0 => source.Remove(at, Math.Min(random.Next(1, 8), source.Length - at)),
                    1 => source.Insert(at, Fragments[random.Next(Fragments.Length)]),
                    _ => source.Insert(at, source.Substring(random.Next(source.Length / 2), random.Next(1, 40))),
                };
            }
            var variables = new Dictionary<string, JsonNode?>
            {
                ["messages"] = conversations[random.Next(conversations.Length)].DeepClone(),
                ["tools"] = random.Next(2) == 0 ? null : spec["tools"]!.DeepClone(),
                ["add_generation_prompt"] = random.Next(2) == 0,
                ["bos_token"] = "<s>",
            };
            try
            {
                Template.Parse(source, limits).Render(variables, Jinja.Clock);
                rendered++;
            }
            catch (TemplateException e)
            {
                Assert.DoesNotContain('\n', e.Message);
                failed++;
            }
            catch (Exception e)
            {
                Assert.Fail($"mutation {i}: {e.GetType().Name}: {e.Message}\n--- template ---\n{source}\n{e.StackTrace}");
            }
        }
        Assert.True(rendered > 100 && failed > 100, $"{rendered} rendered, {failed} failed: the mutations should exercise both");
    }
}
