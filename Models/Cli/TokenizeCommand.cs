using System.CommandLine;
using System.Globalization;
using Tessera.Checkpoints;
using Tessera.Text;

namespace Tessera.Models.Cli;

/// <summary><c>tessera tokenize</c>: text to token ids (one comma-separated line), or ids back to text.</summary>
internal static class TokenizeCommand
{
    public static Command Create()
    {
        var checkpoint = new Option<string>("--checkpoint", "-c")
        {
            Description = "Checkpoint folder with tokenizer.json, or vocab.json + merges.txt. Default: the bundled tiny-llama.",
            DefaultValueFactory = _ => EngineCatalog.Bundled("tiny-llama"),
        };
        var text = new Option<string?>("--text") { Description = "Text to encode: prints its token ids, comma-separated." };
        var file = new Option<string?>("--file", "-f") { Description = "A UTF-8 text file to encode (instead of --text)." };
        var decode = new Option<string?>("--decode", "-d") { Description = "Token ids to decode, comma-separated (1,2,3): prints the text." };
        var noSpecial = new Option<bool>("--no-special-tokens") { Description = "When encoding, add no BOS/EOS." };
        var keepSpecial = new Option<bool>("--keep-special-tokens") { Description = "When decoding, keep special tokens (<s>, <|endoftext|>) in the text." };
        var command = new Command("tokenize", "Encode text to token ids, or decode token ids to text, with a checkpoint's tokenizer.")
        {
            checkpoint, text, file, decode, noSpecial, keepSpecial,
        };
        command.SetAction(r => Program.Run(() => Execute(r.GetValue(checkpoint)!, r.GetValue(text), r.GetValue(file), r.GetValue(decode), !r.GetValue(noSpecial), !r.GetValue(keepSpecial))));
        return command;
    }

    private static int Execute(string directory, string? text, string? file, string? decode, bool addSpecialTokens, bool skipSpecialTokens)
    {
        if ((text is null ? 0 : 1) + (file is null ? 0 : 1) + (decode is null ? 0 : 1) != 1)
            throw new ArgumentException("give one of --text \"...\" or --file PATH to encode, or --decode 1,2,3 to decode.");
        var tokenizer = Tokenizers.Load(directory);
        if (file is not null) text = FileText.ReadText(file, FileText.Text);
        if (text is not null)
        {
            Console.WriteLine(string.Join(",", tokenizer.Encode(text, addSpecialTokens)));
            return 0;
        }
        int[] ids = ParseIds(decode!);
        foreach (int id in ids)
            if (id < 0 || id >= tokenizer.VocabSize)
                throw new ArgumentException($"--decode: token id {id} is outside the vocabulary (size {tokenizer.VocabSize}).");
        Console.WriteLine(tokenizer.Decode(ids, skipSpecialTokens));
        return 0;
    }

    private static int[] ParseIds(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var ids = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out ids[i]))
                throw new FormatException($"--decode: '{parts[i]}' is not an integer token id.");
        return ids;
    }
}
