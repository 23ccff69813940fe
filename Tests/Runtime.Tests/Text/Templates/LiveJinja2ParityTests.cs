using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tessera.Runtime.Tests.Text.Templates;

/// <summary>
/// Every expectation of the language tests, checked against Python's jinja2 itself (Debian's /usr/bin/python3 with
/// python3-jinja2, in Hugging Face's environment: make-expected.py --stdin), so that the specifications are Jinja2's
/// and not our reading of it. Skipped where that Python or its jinja2 is missing.
/// </summary>
public sealed class LiveJinja2ParityTests
{
    private const string Python = "/usr/bin/python3";

    private static readonly string? Missing = FindMissing();

    private static string? FindMissing()
    {
        if (!File.Exists(Python)) return $"{Python} is not installed";
        using var probe = Process.Start(new ProcessStartInfo(Python, ["-c", "import jinja2"]) { RedirectStandardError = true })!;
        probe.WaitForExit();
        return probe.ExitCode == 0 ? null : $"{Python} has no jinja2 (apt-get install python3-jinja2)";
    }

    public sealed class LiveFactAttribute : FactAttribute
    {
        public LiveFactAttribute()
        {
            if (Missing is not null) Skip = Missing;
        }
    }

    [LiveFact]
    public void EveryLanguageExpectation_IsWhatJinja2Renders()
    {
        var cases = new[] { WhitespaceTests.Cases, ExpressionTests.Cases, StatementTests.Cases, FilterTests.Cases, TestAndMethodTests.Cases, RealTemplateIdiomTests.Cases }
            .SelectMany(data => data.Select(row => (Template: (string)row[0], Variables: (string)row[1], Expected: (string)row[2])))
            .ToList();
        var request = new JsonArray(cases.Select(c => (JsonNode)new JsonObject { ["template"] = c.Template, ["variables"] = JsonNode.Parse(c.Variables) }).ToArray());
        var results = RunPython(request.ToJsonString());
        var mismatches = new List<string>();
        for (int i = 0; i < cases.Count; i++)
        {
            string? output = (string?)results[i]!["output"];
            if (output != cases[i].Expected)
                mismatches.Add($"{JsonSerializer.Serialize(cases[i].Template)}: expected {JsonSerializer.Serialize(cases[i].Expected)}, jinja2 {(output is null ? "fails: " + results[i]!["error"] : JsonSerializer.Serialize(output))}");
        }
        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches));
    }

    private static JsonArray RunPython(string input)
    {
        string script = Path.Combine(AppContext.BaseDirectory, "Text", "Templates", "make-expected.py");
        var start = new ProcessStartInfo(Python, [script, "--stdin"])
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
            StandardInputEncoding = new System.Text.UTF8Encoding(false), StandardOutputEncoding = System.Text.Encoding.UTF8,
        };
        start.Environment["PYTHONIOENCODING"] = "utf-8";
        using var python = Process.Start(start)!;
        python.StandardInput.Write(input);
        python.StandardInput.Close();
        string output = python.StandardOutput.ReadToEnd();
        string errors = python.StandardError.ReadToEnd();
        python.WaitForExit();
        Assert.True(python.ExitCode == 0, errors);
        return JsonNode.Parse(output)!.AsArray();
    }
}
