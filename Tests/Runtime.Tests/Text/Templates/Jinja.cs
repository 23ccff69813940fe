using System.Text.Json.Nodes;
using Tessera.Text.Templates;

namespace Tessera.Runtime.Tests.Text.Templates;

/// <summary>Renders a template source with variables given as one JSON object, at a fixed time.</summary>
internal static class Jinja
{
    /// <summary>2026-01-02 03:04:05 in a zone at UTC: what strftime_now reads in the tests (make-expected.py uses the same).</summary>
    public static readonly TimeProvider Clock = new FixedClock(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));

    public static string Render(string template, string variablesJson = "{}", TemplateLimits? limits = null) =>
        Template.Parse(template, limits).Render(Variables(variablesJson), Clock);

    public static Dictionary<string, JsonNode?> Variables(string json) =>
        JsonNode.Parse(json)!.AsObject().ToDictionary(p => p.Key, p => p.Value?.DeepClone());

    public static TemplateException Fails(string template, string variablesJson = "{}", TemplateLimits? limits = null) =>
        Assert.Throws<TemplateException>(() => Render(template, variablesJson, limits));

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;

        public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;
    }
}
