#!/usr/bin/env bash
# Makes the GGUF files and llama.cpp logits the GGUF tests read (Tests/Models.Tests/Gguf/files), from the shared
# fixtures, with llama.cpp's own tools: ../shared/tools/hf_to_gguf.py converts (as llama.cpp's converter does),
# llama-quantize quantizes, llama-cpp-logits.sh computes llama.cpp's logits on each file. Run once by hand when the
# set changes (builds llama.cpp on first use, ~10 min); the outputs are committed, so the tests need neither python
# nor llama.cpp.
#
#   Tests/Models.Tests/Gguf/make-files.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tools=$(cd "$here/../../../../shared/tools" && pwd)
fixtures=$(cd "$tools/../fixtures" && pwd)
out=$here/files
cache=${TESSERA_PEERS:-$HOME/.cache/tessera-peers}
mkdir -p "$out"
"$tools/llama-cpp-logits.sh" --quantize /dev/null /dev/null Q8_0 2>/dev/null || true   # builds llama-quantize once
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# The tokens every file is run on: 16 ids below every fixture's vocabulary (the smallest is 384).
tokens=1,17,250,33,300,5,77,123,301,42,9,260,11,383,64,2

convert() { /usr/bin/python3 "$tools/hf_to_gguf.py" "$1" "$2" --type f32 --gguf-py "$cache/llama.cpp/gguf-py" >/dev/null; }
logits() { "$tools/llama-cpp-logits.sh" "$1" "$tokens" "$2"; }

# A Llama whose widths are multiples of 256, so Q4_K and Q6_K really apply (llama-quantize falls back to Q5_0/Q8_0
# for rows of 64); random weights, seeded.
wide=$tmp/wide-llama
mkdir -p "$wide"
/usr/bin/python3 - "$wide" <<'PY'
import json, struct, sys, numpy as np
d = sys.argv[1]
cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 256, "intermediate_size": 512,
       "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 64, "vocab_size": 512,
       "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": False,
       "hidden_act": "silu", "bos_token_id": 1, "eos_token_id": 2}
json.dump(cfg, open(f"{d}/config.json", "w"), indent=1)
rng = np.random.default_rng(20261207)
D, F, L, H, KV, hd, V = 256, 512, 2, 4, 2, 64, 512
t = {"model.embed_tokens.weight": rng.normal(0, 0.5, (V, D)), "model.norm.weight": rng.uniform(0.8, 1.2, D),
     "lm_head.weight": rng.normal(0, 0.08, (V, D))}
for i in range(L):
    p = f"model.layers.{i}."
    t[p + "input_layernorm.weight"] = rng.uniform(0.8, 1.2, D)
    t[p + "post_attention_layernorm.weight"] = rng.uniform(0.8, 1.2, D)
    t[p + "self_attn.q_proj.weight"] = rng.normal(0, 0.08, (H * hd, D))
    t[p + "self_attn.k_proj.weight"] = rng.normal(0, 0.08, (KV * hd, D))
    t[p + "self_attn.v_proj.weight"] = rng.normal(0, 0.06, (KV * hd, D))
    t[p + "self_attn.o_proj.weight"] = rng.normal(0, 0.06, (D, H * hd))
    t[p + "mlp.gate_proj.weight"] = rng.normal(0, 0.06, (F, D))
    t[p + "mlp.up_proj.weight"] = rng.normal(0, 0.06, (F, D))
    t[p + "mlp.down_proj.weight"] = rng.normal(0, 0.05, (D, F))
header, blobs, off = {}, [], 0
for name, a in t.items():
    b = a.astype("<f4").tobytes()
    header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
    blobs.append(b); off += len(b)
h = json.dumps(header).encode()
h += b" " * (-len(h) % 8)
with open(f"{d}/model.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(h))); f.write(h); [f.write(b) for b in blobs]
PY

# F32 files: the layout of every architecture (names, llama's q/k permutation, stacked experts, fused projections,
# GPT-2's transposed Conv1D weights, Gemma's stored 1 + w, Llama 3.1's rope_freqs).
for name in tiny-llama tiny-llama31 tiny-gpt2 tiny-gemma2 tiny-gemma3 tiny-phi3 tiny-qwen2 tiny-qwen3 tiny-qwen2-moe tiny-qwen3-moe tiny-mixtral; do
  convert "$fixtures/$name" "$out/$name-f32.gguf"
  logits "$out/$name-f32.gguf" "$out/$name-f32.llama-cpp.f32"
done
# Quantized by llama-quantize, with llama.cpp's logits on the quantized file.
for name in tiny-llama tiny-qwen3 tiny-mixtral; do
  for type in Q8_0 Q4_0; do
    "$tools/llama-cpp-logits.sh" --quantize "$out/$name-f32.gguf" "$out/$name-$type.gguf" "$type"
    logits "$out/$name-$type.gguf" "$out/$name-$type.llama-cpp.f32"
  done
done
convert "$wide" "$tmp/wide-llama-f32.gguf"
logits "$tmp/wide-llama-f32.gguf" "$out/wide-llama-f32.llama-cpp.f32"   # the unquantized reference (the file is not kept)
for type in Q4_K_M Q5_K_M Q8_0; do
  "$tools/llama-cpp-logits.sh" --quantize "$tmp/wide-llama-f32.gguf" "$out/wide-llama-$type.gguf" "$type"
  logits "$out/wide-llama-$type.gguf" "$out/wide-llama-$type.llama-cpp.f32"
done
echo "$tokens" > "$out/tokens.txt"
ls -la "$out"
