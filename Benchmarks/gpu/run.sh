#!/usr/bin/env bash
# One command on the GPU machine (NVIDIA driver, CUDA, PyTorch and transformers; no .NET):
#   Benchmarks/gpu/run.sh
# Prerequisite, on the development machine: ../shared/tools/device-bundle.sh Benchmarks/Tessera.Benchmarks.csproj
# (a self-contained publish in .device/, carried to the GPU machine with carry: [".device"]).
# It writes a random-weight checkpoint with Llama-3.2-1B shapes, runs PyTorch (eager, and torch.compile when it
# works) and Tessera on the same workloads — prefill 8 x 512 tokens, decode at batch 1 and 16 — and prints
# tokens/s, the ratios, and decode as a fraction of the memory-bandwidth floor (weight bytes / measured
# device-to-device bandwidth).
set -euo pipefail
cd "$(dirname "$0")/../.."
app=/tmp/tessera-app
if [ ! -x "$app/Tessera.Benchmarks" ]; then
  mkdir -p "$app" && tar xJf .device/Tessera.Benchmarks.tar.xz -C "$app"
fi
exec python3 Benchmarks/gpu/compare.py --tessera "$app/Tessera.Benchmarks" "$@"
