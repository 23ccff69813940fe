using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace Tessera.Generator.Helpers;

/// <summary>
/// Breaks a line of generated C# or CUDA C that runs past the line width, the way a person would: a comment is
/// re-flowed at word boundaries; code is broken at its outermost structure, one rule at a time, each piece wrapped
/// again until it fits:
/// <list type="number">
/// <item>an embedded statement (<c>if (c) s;</c>): the statement one level in, under its header;</item>
/// <item>an expression body: <c>head =&gt;</c>, then the body one level in;</item>
/// <item>a conditional: the condition, then <c>? a</c> and <c>: b</c> one level in;</item>
/// <item>a bracketed list (arguments, parameters, a collection, a for header, a one-line statement block): one
/// item per line, one level in; the longest list whose opening line fits is chosen;</item>
/// <item>commas outside brackets (a base list): one item per line;</item>
/// <item><c>||</c>, <c>&amp;&amp;</c>, <c>+</c> outside brackets: one operand per line, the operator first;</item>
/// <item>a bracketed expression with no list in it: its content on its own line, one level in.</item>
/// </list>
/// Only whitespace changes: string and character literals, comments' words, preprocessor lines and every token stay
/// whole, so the wrapped text means what the long line meant (C# and C alike). A line it cannot break stays long.
/// </summary>
internal static class LineWrapper
{
    /// <summary>The width generated code keeps within.</summary>
    public const int DefaultWidth = 120;

    private const string Step = "    ";

    private static readonly string[] StatementHeaders = ["if (", "for (", "foreach (", "while (", "else if ("];

    /// <summary>The lines of <paramref name="line"/> (its leading spaces are its indentation) within <paramref name="width"/>.</summary>
    /// <param name="hanging">
    /// the line opened a lambda as the last argument of a call that was broken over lines (<c>f(a, (x) =&gt;</c>): the
    /// lambda's body, written next, belongs one level in, with the arguments
    /// </param>
    public static List<string> Wrap(string line, int width, out bool hanging)
    {
        hanging = false;
        var lines = new List<string>();
        int lead = 0;
        while (lead < line.Length && line[lead] == ' ') lead++;
        string indent = line.Substring(0, lead), text = line.Substring(lead);
        if (line.Length <= width || text.StartsWith("#"))
        {
            lines.Add(line);
            return lines;
        }
        if (text.StartsWith("//"))
        {
            WrapComment(indent, text, width, lines);
            return lines;
        }

        var scan = new Scan(text);
        string code = text;
        int comment = scan.CommentStart;
        if (comment > 0)
        {
            // A trailing comment that does not fit goes on the line above what it comments.
            code = text.Substring(0, comment).TrimEnd();
            WrapComment(indent, text.Substring(comment), width, lines);
            scan = new Scan(code);
        }
        WrapCode(indent, code, width, lines, 0);
        hanging = lines.Count > 1 && code.EndsWith("=>") && scan.FinalDepth > 0;
        return lines;
    }

    /// <param name="alignOperands">the code is the whole content of a broken bracket: operands of a broken sum line up</param>
    private static void WrapCode(string indent, string code, int width, List<string> lines, int level, bool alignOperands = false)
    {
        if (indent.Length + code.Length <= width || level > 16)
        {
            lines.Add(indent + code);
            return;
        }
        var scan = new Scan(code);
        string inner = indent + Step;

        // 0. if (condition) statement;
        var header = StatementHeaders.FirstOrDefault(h => code.StartsWith(h, System.StringComparison.Ordinal));
        if (header is not null)
        {
            var condition = scan.TopLevelGroups().FirstOrDefault();
            if (condition is { Open: var open, Close: > 0 } && open == header.Length - 1 && condition.Close + 1 < code.Length
                && code[condition.Close + 1] == ' ' && !code.Substring(condition.Close + 1).TrimStart().StartsWith("{"))
            {
                WrapCode(indent, code.Substring(0, condition.Close + 1), width, lines, level + 1);
                WrapCode(inner, code.Substring(condition.Close + 1).Trim(), width, lines, level + 1);
                return;
            }
        }

        // 1. head => body
        int arrow = scan.FindTopLevel(" => ");
        if (arrow > 0 && arrow + 4 < code.Length)
        {
            WrapCode(indent, code.Substring(0, arrow) + " =>", width, lines, level + 1);
            WrapCode(inner, code.Substring(arrow + 4), width, lines, level + 1);
            return;
        }

        // 2. condition ? a : b
        int question = scan.FindTopLevel(" ? ");
        int colon = question < 0 ? -1 : scan.FindTopLevel(" : ", question + 3);
        if (question > 0 && colon > question)
        {
            WrapCode(indent, code.Substring(0, question), width, lines, level + 1);
            WrapCode(inner, code.Substring(question + 1, colon - question - 1), width, lines, level + 1);
            WrapCode(inner, code.Substring(colon + 1), width, lines, level + 1);
            return;
        }

        // 3. a bracketed list, one item per line
        var groups = scan.TopLevelGroups().Where(g => indent.Length + g.Open + 1 <= width).ToList();
        var list = groups.Where(g => g.Separators.Count > 0).OrderByDescending(g => g.ContentLength).FirstOrDefault();
        if (list is not null)
        {
            WriteGroup(indent, code, list, width, lines, level);
            return;
        }

        // 4. commas outside brackets
        var commas = scan.TopLevelCommas();
        if (commas.Count > 0)
        {
            int start = 0;
            foreach (int comma in commas)
            {
                WrapCode(start == 0 ? indent : inner, code.Substring(start, comma + 1 - start).Trim(), width, lines, level + 1);
                start = comma + 1;
            }
            WrapCode(inner, code.Substring(start).Trim(), width, lines, level + 1);
            return;
        }

        // 5. operands of ||, &&, + outside brackets
        foreach (var op in new[] { " || ", " && ", " + " })
        {
            var at = scan.FindAllTopLevel(op);
            if (at.Count == 0) continue;
            int start = 0;
            string next = alignOperands ? indent : inner;
            foreach (int i in at)
            {
                WrapCode(start == 0 ? indent : next, code.Substring(start, i - start).Trim(), width, lines, level + 1);
                start = i + 1;
            }
            WrapCode(next, code.Substring(start).Trim(), width, lines, level + 1);
            return;
        }

        // 6. the content of the longest bracketed expression
        var longest = groups.Where(g => g.ContentLength > 0).OrderByDescending(g => g.ContentLength).FirstOrDefault();
        if (longest is not null)
        {
            WriteGroup(indent, code, longest, width, lines, level);
            return;
        }
        lines.Add(indent + code);
    }

    /// <summary>
    /// The head up to the opening bracket, then each item on its own line one level in, the closing bracket and the
    /// rest after the last item; a one-line statement block <c>{ a; b; }</c> closes on its own line instead.
    /// </summary>
    private static void WriteGroup(string indent, string code, Group group, int width, List<string> lines, int level)
    {
        string inner = indent + Step;
        int end = group.Close < 0 ? code.Length : group.Close;
        WrapCode(indent, code.Substring(0, group.Open + 1).TrimEnd(), width, lines, level + 1);
        var items = new List<string>();
        int start = group.Open + 1;
        foreach (int separator in group.Separators)
        {
            items.Add(code.Substring(start, separator + 1 - start).Trim());
            start = separator + 1;
        }
        string last = code.Substring(start, end - start).Trim();
        string rest = group.Close < 0 ? "" : code.Substring(group.Close);
        if (code[group.Open] == '{' && group.Separators.Any(s => code[s] == ';'))
        {
            // Statements: one per line, the block closing on its own line.
            foreach (var item in items) WrapCode(inner, item, width, lines, level + 1);
            if (last.Length > 0) WrapCode(inner, last, width, lines, level + 1);
            if (rest.Length > 0) WrapCode(indent, rest, width, lines, level + 1);
            return;
        }
        if (last.Length == 0 && items.Count > 0)
        {
            // A trailing separator (an initializer's last comma): the last item keeps it.
            last = items[items.Count - 1];
            items.RemoveAt(items.Count - 1);
        }
        foreach (var item in items) WrapCode(inner, item, width, lines, level + 1);
        WrapCode(inner, last + (rest.StartsWith("}") ? " " : "") + rest, width, lines, level + 1, alignOperands: items.Count == 0);
    }

    /// <summary>A comment re-flowed at spaces (never inside an XML tag), each line with the comment's own prefix.</summary>
    private static void WrapComment(string indent, string text, int width, List<string> lines)
    {
        foreach (var element in new[] { "summary", "remarks" })
        {
            string open = $"/// <{element}>", close = $"</{element}>";
            if (!text.StartsWith(open) || !text.EndsWith(close)) continue;
            // A one-line summary that does not fit becomes the usual three-part form.
            lines.Add(indent + open);
            WrapComment(indent, "/// " + text.Substring(open.Length, text.Length - open.Length - close.Length).Trim(), width, lines);
            lines.Add(indent + "/// " + close);
            return;
        }
        string prefix = text.StartsWith("/// ") ? "/// " : text.StartsWith("// ") ? "// " : text.StartsWith("///") ? "///" : "//";
        var words = new List<string>();
        var word = new StringBuilder();
        int tag = 0;
        foreach (char c in text.Substring(prefix.Length))
        {
            if (c == '<') tag++;
            if (c == '>' && tag > 0) tag--;
            if (c == ' ' && tag == 0)
            {
                words.Add(word.ToString());
                word.Clear();
            }
            else
            {
                word.Append(c);
            }
        }
        words.Add(word.ToString());

        var current = new StringBuilder(prefix);
        foreach (var w in words)
        {
            bool empty = current.Length == prefix.Length;
            if (!empty && indent.Length + current.Length + 1 + w.Length > width && w.Length > 0)
            {
                lines.Add(indent + current.ToString().TrimEnd());
                current.Clear().Append(prefix);
                empty = true;
            }
            if (empty && w.Length == 0) continue;
            if (!empty) current.Append(' ');
            current.Append(w);
        }
        lines.Add(indent + current.ToString().TrimEnd());
    }

    /// <summary>A bracketed group at the outermost level: where it opens and closes (-1: past the line's end), and its separators.</summary>
    private sealed class Group(int open, int close, List<int> separators, int contentLength)
    {
        public int Open { get; } = open;
        public int Close { get; } = close;
        public List<int> Separators { get; } = separators;
        public int ContentLength { get; } = contentLength;
    }

    /// <summary>The bracket depth before each character of a line, with literals and a trailing comment marked.</summary>
    private sealed class Scan
    {
        private readonly string _text;
        private readonly int[] _depth;
        private readonly bool[] _code;

        public int CommentStart { get; } = -1;

        public int FinalDepth { get; }

        public Scan(string text)
        {
            _text = text;
            _depth = new int[text.Length];
            _code = new bool[text.Length];
            int depth = 0;
            for (int i = 0; i < text.Length;)
            {
                char c = text[i];
                int literalEnd = LiteralEnd(text, i);
                if (literalEnd > i)
                {
                    for (int j = i; j < literalEnd; j++) _depth[j] = depth;
                    i = literalEnd;
                    continue;
                }
                if (c == '/' && i + 1 < text.Length && text[i + 1] == '/')
                {
                    CommentStart = i;
                    for (int j = i; j < text.Length; j++) _depth[j] = depth;
                    break;
                }
                _depth[i] = depth;
                _code[i] = true;
                if (c is '(' or '[' or '{') depth++;
                if (c is ')' or ']' or '}') depth = System.Math.Max(0, depth - 1);
                i++;
            }
            FinalDepth = depth;
        }

        private bool IsCodeAt(int i, int depth) => i < _text.Length && _code[i] && _depth[i] == depth;

        /// <summary>The first <paramref name="token"/> at bracket depth 0 outside literals, from <paramref name="from"/>.</summary>
        public int FindTopLevel(string token, int from = 0)
        {
            var all = FindAllTopLevel(token, from);
            return all.Count == 0 ? -1 : all[0];
        }

        public List<int> FindAllTopLevel(string token, int from = 0)
        {
            var found = new List<int>();
            for (int i = from; i + token.Length <= _text.Length; i++)
            {
                if (string.CompareOrdinal(_text, i, token, 0, token.Length) != 0) continue;
                bool code = true;
                for (int j = i; j < i + token.Length; j++) code &= IsCodeAt(j, 0);
                if (code)
                {
                    found.Add(i);
                    i += token.Length - 1;
                }
            }
            return found;
        }

        /// <summary>Commas at depth 0, but not one that ends the line.</summary>
        public List<int> TopLevelCommas()
        {
            var commas = new List<int>();
            for (int i = 0; i < _text.Length - 1; i++)
                if (_text[i] == ',' && IsCodeAt(i, 0)) commas.Add(i);
            return commas;
        }

        public List<Group> TopLevelGroups()
        {
            var groups = new List<Group>();
            for (int i = 0; i < _text.Length; i++)
            {
                if (!IsCodeAt(i, 0) || _text[i] is not ('(' or '[' or '{')) continue;
                int close = -1;
                var separators = new List<int>();
                for (int j = i + 1; j < _text.Length; j++)
                {
                    if (!_code[j] || _depth[j] != 1) continue;
                    if (_text[j] is ')' or ']' or '}')
                    {
                        close = j;
                        break;
                    }
                    if (_text[j] is ',' or ';') separators.Add(j);
                }
                int end = close < 0 ? _text.Length : close;
                groups.Add(new Group(i, close, separators, end - i - 1));
                if (close < 0) break;
                i = close;
            }
            return groups;
        }

        /// <summary>Where a literal starting at <paramref name="i"/> ends (exclusive), or <paramref name="i"/> if none starts there.</summary>
        private static int LiteralEnd(string s, int i)
        {
            int n = s.Length;
            int p = i;
            bool interpolated = false, verbatim = false;
            while (p < n && (s[p] == '$' || s[p] == '@'))
            {
                interpolated |= s[p] == '$';
                verbatim |= s[p] == '@';
                p++;
            }
            if (p >= n) return i;
            if (s[p] == '\'' && p == i)
            {
                int q = p + 1;
                if (q < n && s[q] == '\\') q += 2;
                else q++;
                while (q < n && s[q] != '\'') q++;
                return System.Math.Min(n, q + 1);
            }
            if (s[p] != '"') return i;
            if (p + 2 < n && s[p + 1] == '"' && s[p + 2] == '"') return n; // a raw literal: its text runs past this line
            int k = p + 1;
            while (k < n)
            {
                char c = s[k];
                if (!verbatim && c == '\\')
                {
                    k += 2;
                    continue;
                }
                if (c == '"')
                {
                    if (verbatim && k + 1 < n && s[k + 1] == '"')
                    {
                        k += 2;
                        continue;
                    }
                    return k + 1;
                }
                if (interpolated && c == '{')
                {
                    if (k + 1 < n && s[k + 1] == '{')
                    {
                        k += 2;
                        continue;
                    }
                    int holes = 1;
                    k++;
                    while (k < n && holes > 0)
                    {
                        int nested = LiteralEnd(s, k);
                        if (nested > k)
                        {
                            k = nested;
                            continue;
                        }
                        if (s[k] == '{') holes++;
                        if (s[k] == '}') holes--;
                        k++;
                    }
                    continue;
                }
                k++;
            }
            return n;
        }
    }
}
