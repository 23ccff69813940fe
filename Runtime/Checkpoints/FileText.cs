using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Tessera.Checkpoints;

/// <summary>
/// Text read from a checkpoint's files (a model_type, a tensor name, a dtype, a JSON value, a parser's complaint about
/// them) as error messages show it. Control and format characters are escaped, so a name cannot colour the terminal,
/// move the cursor or split the one error line; and the text is cut, so a megabyte-long string is not a megabyte-long
/// message. Every message that quotes file content goes through here.
/// </summary>
public static partial class FileText
{
    /// <summary>Characters of a value shown before it is cut.</summary>
    public const int MaxShown = 80;

    /// <summary>Characters of free text (a parser's message, which ends with the position) shown before it is cut.</summary>
    public const int MaxFreeText = 400;

    private static readonly JsonSerializerOptions CompactJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The text in double quotes, escaped as a JSON string would be and cut: <c>"llama\u001b[31m"</c>.</summary>
    public static string Quoted(string text) => "\"" + Escaped(text, quotes: true, MaxShown) + "\"";

    /// <summary>
    /// A JSON value as its compact JSON text, escaped and cut: <c>"64"</c>, <c>1.5</c>, <c>{"a":1}</c>. A value holding a
    /// lone surrogate escape ("\ud800"), which the serializer refuses to write, is shown as the file has it.
    /// </summary>
    public static string Json(JsonElement value)
    {
        string text;
        try
        {
            text = JsonSerializer.Serialize(value, CompactJson);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or ArgumentException)
        {
            text = value.GetRawText();
        }
        return Escaped(text, quotes: false, MaxShown);
    }

    /// <summary>Free text (an exception's message about a file): control and format characters escaped, cut.</summary>
    public static string Escaped(string text) => Escaped(text, quotes: false, MaxFreeText);

    private static string Escaped(string text, bool quotes, int max)
    {
        var shown = new StringBuilder();
        int i = 0;
        for (; i < text.Length && shown.Length < max; i++)
        {
            char c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                shown.Append(c).Append(text[++i]);
                continue;
            }
            switch (c)
            {
                case '\n': shown.Append("\\n"); break;
                case '\r': shown.Append("\\r"); break;
                case '\t': shown.Append("\\t"); break;
                case '"' when quotes: shown.Append("\\\""); break;
                case '\\' when quotes: shown.Append("\\\\"); break;
                default:
                    // Cc (ESC, NUL, ...), Cf (right-to-left overrides, zero-width joiners), lone surrogates, U+2028/9.
                    var category = char.GetUnicodeCategory(c);
                    if (category is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate
                        or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator)
                        shown.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
                    else
                        shown.Append(c);
                    break;
            }
        }
        if (i < text.Length) shown.Append(CultureInfo.InvariantCulture, $"... ({text.Length:N0} characters)");
        return shown.ToString();
    }

    /// <summary>
    /// The length of the file a path names, through symbolic links: a Hugging Face cache's snapshot holds links to
    /// its blobs, and a link's own length is that of the path it holds.
    /// </summary>
    public static long LengthOf(string path)
    {
        var info = new FileInfo(path);
        return info.LinkTarget is null ? info.Length : ((FileInfo?)info.ResolveLinkTarget(returnFinalTarget: true) ?? info).Length;
    }
}
