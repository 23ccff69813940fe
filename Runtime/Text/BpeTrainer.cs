using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Tessera.Text;

/// <summary>
/// A deterministic byte-level BPE trainer: the text is cut into pieces by a pre-tokenisation regex, every piece into
/// its UTF-8 bytes (the 256 byte tokens, in GPT-2's order), and the most frequent adjacent pair (counted over all
/// pieces) is merged repeatedly until the vocabulary has the requested size. Ties go to the pair whose token strings
/// come first in ordinal order, so the same text and settings always give the same merges.
/// </summary>
public static class BpeTrainer
{
    /// <summary>Trains a vocabulary of exactly <paramref name="vocabSize"/> ids (byte tokens + merges + specials).</summary>
    /// <exception cref="ArgumentException">The size is smaller than 256 + the specials, or the text supports too few merges.</exception>
    public static TrainedBpe Train(string text, int vocabSize, IReadOnlyList<string>? specialTokens = null,
        SpecialTokenPlacement placement = SpecialTokenPlacement.First, string pattern = ByteLevel.Gpt2Pattern)
    {
        ArgumentNullException.ThrowIfNull(text);
        var specials = (specialTokens ?? []).ToArray();
        if (specials.Distinct(StringComparer.Ordinal).Count() != specials.Length || specials.Any(s => s.Length == 0))
            throw new ArgumentException("special tokens must be distinct and non-empty.", nameof(specialTokens));
        int regularTarget = vocabSize - specials.Length;
        if (regularTarget < 256)
            throw new ArgumentException($"vocab size {vocabSize} is too small: it needs the 256 byte tokens plus {specials.Length} special tokens.", nameof(vocabSize));

        // Token strings in the byte-level alphabet; 0..255 are the bytes in GPT-2's order (printable first).
        var tokens = Enumerable.Range(0, 256).Select(b => ByteLevel.ToChar((byte)b).ToString()).OrderBy(s => s[0]).ToList();
        var idOf = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < tokens.Count; i++) idOf[tokens[i]] = i;

        // Unique pieces with their counts, in ordinal order.
        var pieceCounts = new Dictionary<string, int>(StringComparer.Ordinal);
        var regex = PreTokenizer.Pattern(pattern);
        foreach (var match in regex.EnumerateMatches(text))
        {
            if (match.Length == 0) continue;
            string piece = text.Substring(match.Index, match.Length);
            pieceCounts[piece] = pieceCounts.GetValueOrDefault(piece) + 1;
        }
        var pieces = pieceCounts.Keys.OrderBy(p => p, StringComparer.Ordinal).ToArray();
        var words = new List<int>[pieces.Length];
        var counts = new int[pieces.Length];
        for (int w = 0; w < pieces.Length; w++)
        {
            counts[w] = pieceCounts[pieces[w]];
            words[w] = Encoding.UTF8.GetBytes(pieces[w]).Select(b => idOf[ByteLevel.ToChar(b).ToString()]).ToList();
        }

        var pairCounts = new Dictionary<long, long>();
        var pairWords = new Dictionary<long, HashSet<int>>();
        void Count(int w, int sign)
        {
            var word = words[w];
            for (int i = 0; i + 1 < word.Count; i++)
            {
                long key = BpeMerges.Key(word[i], word[i + 1]);
                pairCounts[key] = pairCounts.GetValueOrDefault(key) + sign * (long)counts[w];
                if (sign > 0)
                {
                    if (!pairWords.TryGetValue(key, out var set)) pairWords[key] = set = [];
                    set.Add(w);
                }
            }
        }
        for (int w = 0; w < words.Length; w++) Count(w, +1);

        var merges = new List<(string Left, string Right)>();
        while (tokens.Count < regularTarget)
        {
            long best = 0, bestCount = 0;
            foreach (var (key, count) in pairCounts)
            {
                if (count <= 0) continue;
                if (count > bestCount || (count == bestCount && ComparePairs(tokens, key, best) < 0))
                {
                    best = key;
                    bestCount = count;
                }
            }
            if (bestCount == 0)
                throw new ArgumentException($"the training text supports only {tokens.Count + specials.Length} tokens (no pair left to merge), fewer than vocab size {vocabSize}: give a longer text.");

            int left = (int)(best >> 32), right = (int)(uint)best;
            string merged = tokens[left] + tokens[right];
            if (!idOf.TryGetValue(merged, out int mergedId))
            {
                mergedId = tokens.Count;
                tokens.Add(merged);
                idOf[merged] = mergedId;
            }
            merges.Add((tokens[left], tokens[right]));

            foreach (int w in pairWords[best].Order().ToArray())
            {
                Count(w, -1);
                var word = words[w];
                int write = 0;
                for (int read = 0; read < word.Count; read++)
                {
                    if (read + 1 < word.Count && word[read] == left && word[read + 1] == right)
                    {
                        word[write++] = mergedId;
                        read++;
                    }
                    else word[write++] = word[read];
                }
                word.RemoveRange(write, word.Count - write);
                Count(w, +1);
            }
            pairCounts.Remove(best);
            pairWords.Remove(best);
        }

        var all = placement == SpecialTokenPlacement.First ? specials.Concat(tokens).ToArray() : tokens.Concat(specials).ToArray();
        return new TrainedBpe(all, merges, specials, pattern);
    }

    private static int ComparePairs(List<string> tokens, long a, long b)
    {
        int c = string.CompareOrdinal(tokens[(int)(a >> 32)], tokens[(int)(b >> 32)]);
        return c != 0 ? c : string.CompareOrdinal(tokens[(int)(uint)a], tokens[(int)(uint)b]);
    }
}
