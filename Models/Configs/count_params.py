#!/usr/bin/env python3
"""Exact parameter count of each Models/Configs/*/config.json, by part, from the config alone.

A documentation aid (no dependencies): `python3 Models/Configs/count_params.py` prints, per folder, the per-part
breakdown and the total, and compares the total with the published figure in PUBLISHED (README.md says where each
figure comes from). Keys a config omits take the transformers config class's default, as loading it would
(Gemma 2/3: tied embeddings; Gemma 3: vocab 262208, 8 heads, 4 KV heads, head_dim 256 for the 4B's text_config).
"""
import json
import os
import sys

PUBLISHED = {
    "llama-2-7b": 6_738_415_616,
    "llama-2-13b": 13_015_864_320,
    "llama-2-70b": 68_976_648_192,
    "llama-3-8b": 8_030_261_248,
    "llama-3.1-8b": 8_030_261_248,
    "mixtral-8x7b": 46_702_792_704,
    "mistral-7b": 7_241_732_096,
    "mistral-7b-v0.3": 7_248_023_552,
    "qwen2.5-7b": 7_615_616_512,
    "qwen3-8b": 8_190_735_360,
    "qwen3-30b-a3b": 30_532_122_624,
    "phi-3-mini": 3_821_079_552,
    "gemma-2-9b-it": 9_241_705_984,
    "gemma-3-1b-it": 999_885_952,
    "gemma-3-4b-it": 4_300_079_472,
}

# Defaults of the transformers config classes, for keys a published config leaves out.
DEFAULTS = {
    "gemma2": {"tie_word_embeddings": True},
    "gemma3_text": {"tie_word_embeddings": True, "vocab_size": 262_208, "num_attention_heads": 8,
                    "num_key_value_heads": 4, "head_dim": 256},
    "siglip_vision_model": {"num_channels": 3},
}


def text_model(c):
    """Decoder-only language model: returns [(part, count)]."""
    mt = c["model_type"]
    c = {**DEFAULTS.get(mt, {}), **c}
    V, D, L = c["vocab_size"], c["hidden_size"], c["num_hidden_layers"]
    H = c["num_attention_heads"]
    KV = c.get("num_key_value_heads") or H
    hd = c.get("head_dim") or D // H
    tied = c.get("tie_word_embeddings", False)
    q, kv = H * hd, KV * hd
    attn = D * q + 2 * D * kv + q * D                      # q, k, v, o projections
    if mt in ("qwen2", "qwen2_moe") or c.get("attention_bias"):
        attn += q + 2 * kv                                 # q, k, v biases (Qwen2 always; o has none)
    qk_norm = 2 * hd if mt in ("qwen3", "qwen3_moe", "gemma3_text") else 0
    norms = (4 if mt in ("gemma2", "gemma3_text") else 2) * D
    if "num_local_experts" in c or "num_experts" in c:     # Mixtral / Qwen2-MoE / Qwen3-MoE
        E = c.get("num_local_experts") or c["num_experts"]
        F = c.get("moe_intermediate_size") or c["intermediate_size"]
        mlp = E * 3 * D * F + E * D                        # experts (gate, up, down) + router
        if c.get("shared_expert_intermediate_size"):
            mlp += 3 * D * c["shared_expert_intermediate_size"] + D   # shared expert + its sigmoid gate
        mlp_name = f"MoE: {E} x 3*D*F_moe + router E*D" + (" + shared 3*D*F_s + gate D" if c.get("shared_expert_intermediate_size") else "")
    else:
        mlp = 3 * D * c["intermediate_size"]               # gate, up, down (Phi-3 fuses gate_up: same count)
        mlp_name = "MLP 3*D*F"
    layer = attn + qk_norm + norms + mlp
    parts = [("embeddings V*D", V * D),
             (f"{L} layers x {layer:,} (attn {attn:,}; q/k norm {qk_norm}; norms {norms}; {mlp_name} {mlp:,})", L * layer),
             ("final norm D", D),
             ("lm_head V*D" + (" (tied: 0)" if tied else ""), 0 if tied else V * D)]
    return parts


def siglip(c):
    c = {**DEFAULTS["siglip_vision_model"], **c}
    D, F, L, P, S, C = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"], c["patch_size"], c["image_size"], c["num_channels"]
    patches = C * P * P * D + D + (S // P) ** 2 * D        # patch conv (weight, bias) + position table
    layer = 2 * 2 * D + 4 * (D * D + D) + (D * F + F) + (F * D + D)   # 2 LayerNorms, q/k/v/o with bias, fc1, fc2
    return [("vision patch + positions", patches), (f"vision {L} layers x {layer:,}", L * layer), ("vision post-LayerNorm", 2 * D)]


def count(c):
    if "text_config" in c:                                 # Gemma 3 multimodal: text + SigLIP + projector
        text = {**c["text_config"]}
        parts = text_model(text) + siglip(c["vision_config"])
        Dv, Dt = c["vision_config"]["hidden_size"], text["hidden_size"]
        parts.append(("projector Dv*Dt + soft-emb norm Dv", Dv * Dt + Dv))
        return parts
    return text_model(c)


def main():
    root = os.path.dirname(os.path.abspath(__file__))
    ok = True
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name, "config.json")
        if not os.path.isfile(path):
            continue
        with open(path) as f:
            parts = count(json.load(f))
        total = sum(n for _, n in parts)
        want = PUBLISHED.get(name)
        verdict = "no published figure" if want is None else ("= published" if total == want else f"!= published {want:,}")
        ok &= want is None or total == want
        print(f"{name}: {total:,} {verdict}")
        for part, n in parts:
            print(f"    {n:>15,}  {part}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
