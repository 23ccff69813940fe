using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace Tessera.Models.Tests.Serving;

/// <summary>
/// A bounded, seeded fuzz of the HTTP API: thousands of mutations of valid request bodies (bytes flipped, inserted,
/// deleted, spans repeated; values swapped for boundary values) against the real server on loopback. Every answer is
/// 200 or a 4xx with an OpenAI error body, never a 5xx or a hang, and the server still answers a good request as
/// before. TESSERA_FUZZ_SEED and TESSERA_FUZZ_CASES change the run; a failure prints the body that caused it.
/// </summary>
public sealed class RequestFuzzTests(ServerFixture server, ITestOutputHelper output) : IClassFixture<ServerFixture>
{
    private static readonly string[] Seeds =
    [
        """{"prompt": "Once upon a time", "max_tokens": 4, "temperature": 0}""",
        """{"prompt": [1, 2, 3], "max_tokens": 3, "temperature": 0.7, "top_p": 0.9, "top_k": 5, "seed": 11, "stop": ["\n", "x"]}""",
        """{"prompt": ["Hi there"], "max_tokens": 2, "stream": true, "stream_options": {"include_usage": true}}""",
        """{"model": "tiny-llama", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": [{"type": "text", "text": "Hello"}]}], "max_tokens": 3}""",
        """{"messages": [{"role": "user", "content": "Hi"}], "max_completion_tokens": 2, "stream": true, "n": 1}""",
    ];

    private static readonly string[] BoundaryValues =
    [
        "0", "-1", "1", "2147483647", "2147483648", "-2147483649", "9223372036854775808", "1e308", "1e400", "-0", "0.5", "NaN",
        "\"\"", "\"\\ud800\"", "\"\\u0000\"", "null", "true", "[]", "{}", "[[[[[[[[]]]]]]]]", "\"" + new string('a', 5000) + "\"",
    ];

    private static readonly byte[] Interesting = "{}[]\",:\\0123456789eE.-+ \n\tnul"u8.ToArray().Concat(new byte[] { 0x00, 0x7F, 0x80, 0xC3, 0xFF }).ToArray();

    [Fact]
    public async Task ThousandsOfMutatedRequests_GetA200OrA4xxWithAnErrorBody_AndTheServerStaysHealthy()
    {
        int seed = int.TryParse(Environment.GetEnvironmentVariable("TESSERA_FUZZ_SEED"), out int s) ? s : 20261201;
        int cases = int.TryParse(Environment.GetEnvironmentVariable("TESSERA_FUZZ_CASES"), out int c) ? c : 3000;
        var random = new Random(seed);
        var statuses = new SortedDictionary<int, int>();
        var clock = Stopwatch.StartNew();
        var before = await server.PostOkAsync("/v1/completions", new JsonObject { ["prompt"] = "Hi", ["max_tokens"] = 4, ["temperature"] = 0 });

        for (int i = 0; i < cases; i++)
        {
            int which = random.Next(Seeds.Length);
            byte[] body = Mutate(Encoding.UTF8.GetBytes(Seeds[which]), random);
            string path = which >= 3 ? "/v1/chat/completions" : "/v1/completions";
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            using var response = await server.Client.PostAsync(path, content, timeout.Token);
            string text = await response.Content.ReadAsStringAsync(timeout.Token);
            int status = (int)response.StatusCode;
            statuses[status] = statuses.GetValueOrDefault(status) + 1;
            string context = $"case {i} (seed {seed}): {path} {Convert.ToBase64String(body)}\n-> {status} {text[..Math.Min(300, text.Length)]}";
            Assert.True(status == 200 || status is >= 400 and < 500, context);
            if (status != 200) Assert.NotNull(JsonNode.Parse(text)?["error"]?["message"]);
        }

        var after = await server.PostOkAsync("/v1/completions", new JsonObject { ["prompt"] = "Hi", ["max_tokens"] = 4, ["temperature"] = 0 });
        Assert.Equal(before["choices"]![0]!["token_ids"]!.ToJsonString(), after["choices"]![0]!["token_ids"]!.ToJsonString());
        output.WriteLine($"HTTP fuzz: seed {seed}, {cases} cases in {clock.Elapsed.TotalSeconds:0.0} s; status counts: " +
                         string.Join(", ", statuses.Select(kv => $"{kv.Key}: {kv.Value}")));
    }

    /// <summary>One to three edits: a byte changed, inserted or deleted, a span repeated, or a JSON value replaced.</summary>
    private static byte[] Mutate(byte[] body, Random random)
    {
        var bytes = body.ToList();
        for (int edits = random.Next(1, 4); edits > 0 && bytes.Count > 0; edits--)
        {
            int at = random.Next(bytes.Count);
            switch (random.Next(5))
            {
                case 0: bytes[at] = Interesting[random.Next(Interesting.Length)]; break;
                case 1: bytes.Insert(at, Interesting[random.Next(Interesting.Length)]); break;
                case 2: bytes.RemoveAt(at); break;
                case 3:
                    int length = Math.Min(random.Next(1, 16), bytes.Count - at);
                    bytes.InsertRange(at, bytes.GetRange(at, length));
                    break;
                default:
                    bytes = ReplaceValue(bytes, random);
                    break;
            }
        }
        return bytes.ToArray();
    }

    /// <summary>The value after a random ':' becomes a boundary value (up to the next ',' or '}').</summary>
    private static List<byte> ReplaceValue(List<byte> bytes, Random random)
    {
        var colons = Enumerable.Range(0, bytes.Count).Where(i => bytes[i] == (byte)':').ToArray();
        if (colons.Length == 0) return bytes;
        int start = colons[random.Next(colons.Length)] + 1, end = start;
        while (end < bytes.Count && bytes[end] is not (byte)',' and not (byte)'}') end++;
        var replaced = bytes.Take(start).ToList();
        replaced.AddRange(Encoding.UTF8.GetBytes(" " + BoundaryValues[random.Next(BoundaryValues.Length)]));
        replaced.AddRange(bytes.Skip(end));
        return replaced;
    }
}
