using System.Collections.Concurrent;
using System.Text;
using System.Text.RegularExpressions;

namespace Tessera.Text;

/// <summary>A piece of text on its way to the BPE model; <see cref="AtStart"/>: it begins the whole input.</summary>
internal readonly record struct Piece(string Text, bool AtStart);

/// <summary>A Hugging Face normalizer step (Prepend, Replace, NFC/NFKC/NFD/NFKD, Lowercase).</summary>
internal abstract class Normalizer
{
    public abstract string Apply(string text);

    public sealed class Prepend(string prefix) : Normalizer
    {
        public override string Apply(string text) => text.Length == 0 ? text : prefix + text;
    }

    /// <summary>Replaces a literal, or each match of a regex; <paramref name="source"/> is the file named when the regex runs out of time.</summary>
    public sealed class Replace(Regex? pattern, string literal, string content, string source) : Normalizer
    {
        public override string Apply(string text)
        {
            if (pattern is null) return text.Replace(literal, content, StringComparison.Ordinal);
            try
            {
                return pattern.Replace(text, content.Replace("$", "$$"));
            }
            catch (RegexMatchTimeoutException e)
            {
                throw PatternTimeout.Error(source, "normalizer", e, text.Length);
            }
        }
    }

    public sealed class Unicode(NormalizationForm form) : Normalizer
    {
        public override string Apply(string text) => text.Normalize(form);
    }

    public sealed class Lowercase : Normalizer
    {
        public override string Apply(string text) => text.ToLowerInvariant();
    }

    public sealed class Sequence(IReadOnlyList<Normalizer> steps) : Normalizer
    {
        public override string Apply(string text)
        {
            foreach (var step in steps) text = step.Apply(text);
            return text;
        }
    }
}

/// <summary>A Hugging Face pre-tokenizer step: splits pieces into smaller pieces (never across them).</summary>
internal abstract class PreTokenizer
{
    public abstract void Split(Piece piece, List<Piece> output);

    public void Apply(List<Piece> pieces, List<Piece> scratch)
    {
        scratch.Clear();
        foreach (var piece in pieces) Split(piece, scratch);
        pieces.Clear();
        pieces.AddRange(scratch);
    }

    private static readonly ConcurrentDictionary<string, Regex> Patterns = new(StringComparer.Ordinal);

    /// <summary>Compiled regexes are shared between tokenizers with the same pattern; each match has <see cref="PatternTimeout.PerMatch"/>.</summary>
    public static Regex Pattern(string pattern) =>
        Patterns.GetOrAdd(pattern, static p => new Regex(p, RegexOptions.Compiled | RegexOptions.CultureInvariant, PatternTimeout.PerMatch));

    public enum Behavior { Isolated, Removed, MergedWithPrevious, MergedWithNext }

    /// <summary>Split by a regex; matches and the text between them become pieces as <paramref name="behavior"/> says.</summary>
    public sealed class RegexSplit(Regex pattern, Behavior behavior, string source) : PreTokenizer
    {
        public override void Split(Piece piece, List<Piece> output) => SplitBy(pattern, behavior, piece, output, source);
    }

    /// <summary>Splits <paramref name="piece"/> by <paramref name="pattern"/>; <paramref name="source"/> is the file named when it runs out of time.</summary>
    public static void SplitBy(Regex pattern, Behavior behavior, Piece piece, List<Piece> output, string source)
    {
        try
        {
            SplitBy(pattern, behavior, piece, output);
        }
        catch (RegexMatchTimeoutException e)
        {
            throw PatternTimeout.Error(source, "pre-tokenizer", e, piece.Text.Length);
        }
    }

    private static void SplitBy(Regex pattern, Behavior behavior, Piece piece, List<Piece> output)
    {
        string text = piece.Text;
        int last = 0;
        int pending = -1; // MergedWithNext: start of a match waiting for the text after it
        void Emit(int start, int end)
        {
            if (end > start) output.Add(new Piece(text[start..end], piece.AtStart && start == 0));
        }
        foreach (var match in pattern.EnumerateMatches(text))
        {
            if (match.Length == 0) continue;
            int start = match.Index, end = match.Index + match.Length;
            switch (behavior)
            {
                case Behavior.Isolated:
                    Emit(last, start);
                    Emit(start, end);
                    break;
                case Behavior.Removed:
                    Emit(last, start);
                    break;
                case Behavior.MergedWithPrevious:
                    Emit(last, end);
                    break;
                case Behavior.MergedWithNext:
                    Emit(pending >= 0 ? pending : last, start);
                    pending = start;
                    break;
            }
            last = end;
        }
        if (behavior == Behavior.MergedWithNext && pending >= 0) Emit(pending, text.Length);
        else Emit(last, text.Length);
    }

    /// <summary>GPT-2's ByteLevel pre-tokenizer: optional prefix space, then (optionally) the GPT-2 regex split.</summary>
    public sealed class ByteLevelSplit(bool addPrefixSpace, bool useRegex, string source) : PreTokenizer
    {
        private readonly Regex? _regex = useRegex ? Pattern(ByteLevel.Gpt2Pattern) : null;

        public override void Split(Piece piece, List<Piece> output)
        {
            if (addPrefixSpace && !piece.Text.StartsWith(' ')) piece = piece with { Text = " " + piece.Text };
            if (_regex is null) output.Add(piece);
            else SplitBy(_regex, Behavior.Isolated, piece, output, source);
        }
    }

    /// <summary>SentencePiece's Metaspace: spaces become ▁, a ▁ is prepended (always, or to the input's first piece), optional split before each ▁.</summary>
    public sealed class Metaspace(char replacement, Metaspace.Prepend prepend, bool split) : PreTokenizer
    {
        public enum Prepend { Always, First, Never }

        public override void Split(Piece piece, List<Piece> output)
        {
            string text = piece.Text.Replace(' ', replacement);
            bool add = prepend == Prepend.Always || (prepend == Prepend.First && piece.AtStart);
            if (add && !text.StartsWith(replacement)) text = replacement + text;
            if (!split)
            {
                output.Add(piece with { Text = text });
                return;
            }
            int start = 0;
            for (int i = 1; i <= text.Length; i++)
            {
                if (i < text.Length && text[i] != replacement) continue;
                output.Add(new Piece(text[start..i], piece.AtStart && start == 0));
                start = i;
            }
        }
    }
}
