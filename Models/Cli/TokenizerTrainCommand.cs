using System.CommandLine;
using Tessera.Checkpoints;
using Tessera.Text;

namespace Tessera.Models.Cli;

/// <summary><c>tessera tokenizer-train</c>: trains a deterministic byte-level BPE vocabulary of an exact size on a text file.</summary>
internal static class TokenizerTrainCommand
{
    public static Command Create()
    {
        var text = new Option<string>("--text") { Description = "The training text (a UTF-8 file).", Required = true };
        var vocabSize = new Option<int>("--vocab-size", "-n") { Description = "Exact vocabulary size: 256 byte tokens + merges + special tokens.", Required = true };
        var output = new Option<string>("--out", "-o") { Description = "Folder to write the tokenizer files into (created if missing).", Required = true };
        var special = new Option<string?>("--special") { Description = "Special tokens, comma-separated, e.g. \"<unk>,<s>,</s>\": the first ids (tokenizer-json) or the last ids (gpt2)." };
        var format = new Option<string>("--format") { Description = "tokenizer-json (Hugging Face tokenizer.json) or gpt2 (vocab.json + merges.txt).", DefaultValueFactory = _ => "tokenizer-json" };
        var pattern = new Option<string?>("--pattern") { Description = "Pre-tokenisation regex: gpt2 or llama3. Default: llama3 for tokenizer-json, gpt2 for gpt2 (which needs it)." };
        var bos = new Option<string?>("--bos") { Description = "tokenizer-json: the special token prepended to every encoding (writes tokenizer_config.json with add_bos_token)." };
        var eos = new Option<string?>("--eos") { Description = "tokenizer-json: the end-of-sequence special token (recorded in tokenizer_config.json)." };
        var command = new Command("tokenizer-train", "Train a deterministic byte-level BPE tokenizer of an exact vocabulary size on a text file.")
        {
            text, vocabSize, output, special, format, pattern, bos, eos,
        };
        command.SetAction(r => Program.Run(() => Execute(r.GetValue(text)!, r.GetValue(vocabSize), r.GetValue(output)!, r.GetValue(special),
            r.GetValue(format)!, r.GetValue(pattern), r.GetValue(bos), r.GetValue(eos))));
        return command;
    }

    private static int Execute(string textPath, int vocabSize, string output, string? special, string format, string? pattern, string? bos, string? eos)
    {
        bool gpt2 = format switch
        {
            "gpt2" => true,
            "tokenizer-json" => false,
            _ => throw new ArgumentException($"--format must be tokenizer-json or gpt2, not '{format}'."),
        };
        if (gpt2 && (bos is not null || eos is not null)) throw new ArgumentException("--bos and --eos apply to --format tokenizer-json; GPT-2 takes them from config.json.");
        string regex = (pattern ?? (gpt2 ? "gpt2" : "llama3")) switch
        {
            "gpt2" => ByteLevel.Gpt2Pattern,
            "llama3" => ByteLevel.Llama3Pattern,
            var other => throw new ArgumentException($"--pattern must be gpt2 or llama3, not '{other}'."),
        };
        var specials = (special ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        OutputFile.Check(gpt2 ? [Path.Combine(output, "vocab.json"), Path.Combine(output, "merges.txt")] : [Path.Combine(output, "tokenizer.json"), Path.Combine(output, "tokenizer_config.json")]);
        string corpus = FileText.ReadText(textPath, FileText.Text);

        var trained = BpeTrainer.Train(corpus, vocabSize, specials, gpt2 ? SpecialTokenPlacement.Last : SpecialTokenPlacement.First, regex);
        var written = gpt2 ? trained.WriteGpt2Files(output) : trained.WriteTokenizerJson(output, bos, eos);
        Console.WriteLine($"wrote {string.Join(" + ", written.Select(Path.GetFileName))} to {output}: {trained.VocabSize} tokens "
                          + $"({specials.Length} special, 256 bytes, {trained.VocabSize - specials.Length - 256} merged; {trained.Merges.Count} merges)");
        return 0;
    }
}
