#!/usr/bin/env bash
# One command on the GPU machine (NVIDIA driver, CUDA, PyTorch and transformers; no .NET):
#   Benchmarks/gpu/run.sh
# Prerequisite, on the development machine: ../shared/tools/device-bundle.sh Benchmarks/Tessera.Benchmarks.csproj
# (a self-contained publish in .device/, carried to the GPU machine with carry: [".device"]).
# First the GPU back end's correctness checks (`gpu-check cuda`: every bundled fixture, one per family, on cuda:1, generic and specialised,
# f32 and bf16, greedy decode, and tp2 x pp2 on four virtual devices against one device — what the [GpuFact] tests
# check, without the SDK). Then the benchmark: a random-weight checkpoint with Llama-3.2-1B shapes, PyTorch (eager,
# and torch.compile when it works) and Tessera on the same workloads — prefill 8 x 512 tokens, decode at batch 1 and
# 16 — printing tokens/s, the ratios, and decode as a fraction of the memory-bandwidth floor (weight bytes /
# measured device-to-device bandwidth). Exits 1 when a check failed, after the benchmark has run anyway.
set -uo pipefail
cd "$(dirname "$0")/../.."
app=/tmp/tessera-app
if [ ! -x "$app/Tessera.Benchmarks" ]; then
  mkdir -p "$app" && tar xJf .device/Tessera.Benchmarks.tar.xz -C "$app" || exit 1
fi
"$app/Tessera.Benchmarks" gpu-check cuda
checks=$?
python3 Benchmarks/gpu/compare.py --tessera "$app/Tessera.Benchmarks" "$@" || exit 1
exit $checks
