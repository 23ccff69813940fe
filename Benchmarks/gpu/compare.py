#!/usr/bin/env python3
"""Tessera vs PyTorch/transformers on one GPU, same random-weight Llama-3.2-1B-shaped model and workloads.

Run through Benchmarks/gpu/run.sh. Prints a table of tokens/s, Tessera / PyTorch ratios, and decode at batch 1 as a
fraction of the memory-bandwidth floor (weight bytes read per token / measured device-to-device bandwidth).
"""
import argparse
import json
import os
import subprocess
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

# Llama-3.2-1B's shapes, without rope_scaling (Tessera refuses what it does not implement).
SHAPES = dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
              num_key_value_heads=8, vocab_size=128256, max_position_embeddings=2048, rms_norm_eps=1e-5,
              rope_theta=500000.0, tie_word_embeddings=True, hidden_act="silu")


def make_checkpoint(path, dtype):
    if os.path.exists(os.path.join(path, "model.safetensors")):
        return
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(**SHAPES)).to(dtype)
    model.save_pretrained(path, safe_serialization=True)


def bandwidth_gbs():
    a = torch.empty(1 << 28, dtype=torch.float32, device="cuda")  # 1 GiB
    b = torch.empty_like(a)
    for _ in range(3):
        b.copy_(a)
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(20):
        b.copy_(a)
    torch.cuda.synchronize()
    seconds = (time.perf_counter() - start) / 20
    return 2 * a.numel() * 4 / seconds / 1e9  # read + write


@torch.inference_mode()
def torch_rates(model, vocab):
    g = torch.Generator(device="cuda").manual_seed(1)
    rates = {}
    ids = torch.randint(vocab, (8, 512), device="cuda", generator=g)
    model(ids)  # warm-up
    torch.cuda.synchronize()
    start = time.perf_counter()
    model(ids)
    torch.cuda.synchronize()
    rates["prefill_8x512"] = ids.numel() / (time.perf_counter() - start)
    for batch in (1, 16):
        prompt = torch.randint(vocab, (batch, 32), device="cuda", generator=g)
        out = model(prompt, use_cache=True)
        past, token = out.past_key_values, out.logits[:, -1:].argmax(-1)
        for _ in range(4):  # warm-up steps
            out = model(token, past_key_values=past, use_cache=True)
            past, token = out.past_key_values, out.logits[:, -1:].argmax(-1)
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(64):
            out = model(token, past_key_values=past, use_cache=True)
            past, token = out.past_key_values, out.logits[:, -1:].argmax(-1)
        torch.cuda.synchronize()
        rates[f"decode_batch{batch}"] = batch * 64 / (time.perf_counter() - start)
    return rates


def tessera_rates(app, path, precision):
    result = subprocess.run([app, "gpu", path, precision], check=True, capture_output=True, text=True)
    rates = {}
    for line in result.stdout.splitlines():
        if line.startswith("{"):
            row = json.loads(line)
            rates[row["workload"]] = row.get("tokens_per_second", row.get("value"))
    return rates


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tessera", required=True)
    parser.add_argument("--dir", default="/tmp/tessera-llama-1b")
    args = parser.parse_args()

    make_checkpoint(args.dir, torch.bfloat16)
    bw = bandwidth_gbs()
    columns = {}
    for dtype_name, dtype in (("bf16", torch.bfloat16), ("fp32", torch.float32)):
        model = LlamaForCausalLM.from_pretrained(args.dir, torch_dtype=dtype).cuda().eval()
        columns[f"torch eager {dtype_name}"] = torch_rates(model, SHAPES["vocab_size"])
        try:
            compiled = torch.compile(model)
            columns[f"torch.compile {dtype_name}"] = torch_rates(compiled, SHAPES["vocab_size"])
        except Exception as error:  # torch.compile needs a working compiler toolchain on the machine
            print(f"torch.compile {dtype_name} unavailable: {error}")
        del model
        torch.cuda.empty_cache()
    tessera = tessera_rates(args.tessera, args.dir, "bf16")
    columns["tessera bf16 weights"] = tessera
    columns["tessera fp32 weights"] = tessera_rates(args.tessera, args.dir, "f32")

    workloads = ["prefill_8x512", "decode_batch1", "decode_batch16"]
    print(f"device: {torch.cuda.get_device_name()}, device-to-device bandwidth {bw:.0f} GB/s")
    print(f"{'':28}" + "".join(f"{w:>18}" for w in workloads))
    for name, rates in columns.items():
        print(f"{name:28}" + "".join(f"{rates.get(w, float('nan')):>18.1f}" for w in workloads))
    for name, rates in columns.items():
        if name.startswith("tessera"):
            continue
        print(f"{'tessera bf16 / ' + name:28}" + "".join(f"{tessera.get(w, float('nan')) / rates[w]:>18.2f}" for w in workloads))
    weight_bytes = tessera.get("weight_bytes")
    if weight_bytes:
        floor = bw * 1e9 / weight_bytes
        print(f"tessera bf16 decode batch 1: {tessera['decode_batch1']:.1f} tokens/s = {tessera['decode_batch1'] / floor:.0%} of the floor "
              f"{floor:.1f} tokens/s ({weight_bytes / 1e9:.2f} GB of weights at {bw:.0f} GB/s)")


if __name__ == "__main__":
    main()
