#!/usr/bin/python3
"""Writes the reference data the Quantization tests compare against (run once; the tests need no python).

References, independent of Tessera's code:
  * gguf-py (llama.cpp's python package): dequantization of every type it knows, quantization of Q8_0 and Q4_0.
  * ggml itself (libggml-base.so of a llama.cpp build, through ctypes): the K quantizers gguf-py lacks
    (quantize_row_q4_K_ref, _q5_K_ref, _q6_K_ref), Q8_K dequantization, and a cross-check of every gguf-py result.
    ggml-base is compiled without -march flags, so its float arithmetic is plain SSE2: no fused multiply-adds.
  * ggml's CPU back end (libggml-cpu.so, built for this AVX2 machine): its products of quantized weights with x,
    x first rounded to the weights' vec_dot_type (quantize_row_q8_0 / _q8_K, then ggml_vec_dot_<w>_q8_0 / _q8_K):
    what DotRows with quantizeX must reproduce.

Files (little-endian), data/dequantize_<type>.bin:  int32 type, int32 rows, int32 columns, rows*rowBytes block bytes,
rows*columns float32 values.  data/quantize_<type>.bin: int32 type, int32 rows, int32 columns, rows*columns float32
inputs, rows*rowBytes block bytes.  data/llama_dot_<type>.bin: int32 type, int32 rows, int32 columns, int32 xRows,
rows*rowBytes weight bytes, xRows*columns float32 x, xRows*rows float32 products.

Usage: /usr/bin/python3 make_reference.py [path to llama.cpp]   (default ~/.cache/tessera-peers/llama.cpp)
"""
import ctypes
import os
import struct
import sys

import numpy as np

LLAMA = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser("~/.cache/tessera-peers/llama.cpp")
sys.path.insert(0, os.path.join(LLAMA, "gguf-py"))
from gguf import GGMLQuantizationType as T, quants  # noqa: E402
from gguf.constants import GGML_QUANT_SIZES  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")
ggml = ctypes.CDLL(os.path.join(LLAMA, "build", "bin", "libggml-base.so"))
ggml_cpu = ctypes.CDLL(os.path.join(LLAMA, "build", "bin", "libggml-cpu.so"))
ggml_cpu.ggml_cpu_init()

# Bytes of each block's F16 scale fields (d, and dmin/m where there is one) within the block.
SCALE_OFFSETS = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
    T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
}
# Extreme and ordinary F16 scales for the crafted blocks: largest finite, negative, smallest subnormal, ±0, small.
EXTREME_SCALES = [65504.0, -65504.0, 5.96e-8, -5.96e-8, 0.0, -0.0, 0.0123, -0.75, 6.1e-5, -3.0]


def block_bytes(qtype):
    return 36 if qtype == T.Q8_1 else GGML_QUANT_SIZES[qtype][1]  # gguf-py's table says 40 for Q8_1; ggml's struct is 36


def ggml_call(name, source, dest, count):
    fn = getattr(ggml, name)
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    fn.restype = None
    fn(source.ctypes.data, dest.ctypes.data, count)


def ggml_quantize(qtype, rows):
    name = "quantize_row_%s_ref" % qtype.name.lower().replace("_k", "_K")
    out = np.zeros((rows.shape[0], rows.shape[1] // GGML_QUANT_SIZES[qtype][0] * block_bytes(qtype)), dtype=np.uint8)
    for r in range(rows.shape[0]):
        ggml_call(name, np.ascontiguousarray(rows[r], dtype=np.float32), out[r], rows.shape[1])
    return out


def ggml_dequantize(qtype, blocks, columns):
    name = "dequantize_row_%s" % qtype.name.lower().replace("_k", "_K")
    out = np.zeros((blocks.shape[0], columns), dtype=np.float32)
    for r in range(blocks.shape[0]):
        ggml_call(name, np.ascontiguousarray(blocks[r]), out[r], columns)
    return out


def sample_rows(rng, rows, columns):
    """Weights of different characters: small normal, heavy-tailed with outliers, all positive, mostly negative."""
    kinds = [
        rng.standard_normal(columns) * 0.02,
        rng.standard_t(2, columns) * 3.0,
        rng.uniform(0.5, 2.0, columns),
        -np.abs(rng.standard_normal(columns)) * 1e3 + rng.standard_normal(columns),
    ]
    return np.stack([kinds[r % len(kinds)] for r in range(rows)]).astype(np.float32)


def crafted_rows(rng, qtype, rows, columns):
    """Random block bytes with chosen F16 scales (extreme ones included): every bit pattern of the quants is fair."""
    blocks_per_row = columns // GGML_QUANT_SIZES[qtype][0]
    size = block_bytes(qtype)
    data = rng.integers(0, 256, (rows, blocks_per_row * size), dtype=np.uint8)
    index = 0
    for r in range(rows):
        for b in range(blocks_per_row):
            for offset in SCALE_OFFSETS[qtype]:
                scale = EXTREME_SCALES[index % len(EXTREME_SCALES)]
                index += 1
                data[r, b * size + offset: b * size + offset + 2] = np.frombuffer(np.float16(scale).tobytes(), dtype=np.uint8)
    return data


def write(name, qtype, rows, columns, first, second):
    path = os.path.join(DATA, name)
    with open(path, "wb") as f:
        f.write(struct.pack("<iii", int(qtype), rows, columns))
        f.write(np.ascontiguousarray(first).tobytes())
        f.write(np.ascontiguousarray(second).tobytes())
    print("%-28s %6d bytes" % (name, os.path.getsize(path)))


def same_bits(a, b):
    a, b = a.view(np.uint32), b.view(np.uint32)
    nan = (a & 0x7FFFFFFF) > 0x7F800000
    return bool(np.all((a == b) | (nan & ((b & 0x7FFFFFFF) > 0x7F800000))))


def dequantize_reference(rng, qtype, columns, quantized_rows, crafted):
    parts = []
    if quantized_rows:
        source = sample_rows(rng, quantized_rows, columns)
        if qtype in (T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K):
            parts.append(ggml_quantize(qtype, source))  # gguf-py has no K quantizers
        else:
            parts.append(quants.quantize(source, qtype))
    if crafted:
        parts.append(crafted_rows(rng, qtype, crafted, columns))
    blocks = np.concatenate(parts).astype(np.uint8)
    values = quants.dequantize(blocks, qtype).astype(np.float32)
    assert same_bits(values, ggml_dequantize(qtype, blocks, columns)), "gguf-py and ggml disagree on %s" % qtype.name
    write("dequantize_%s.bin" % qtype.name.lower(), qtype, blocks.shape[0], columns, blocks, values)


def plain_reference(rng, qtype):
    specials = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 1e-40, -1e-45, 6e-8, 65504, 3.4e38], dtype=np.float32)
    source = np.concatenate([specials, rng.standard_normal(54).astype(np.float32) * 100]).reshape(2, 32)
    if qtype == T.F16:
        with np.errstate(over="ignore"):
            stored = source.astype(np.float16)  # 3.4e38 becomes infinity, on purpose
        stored.view(np.uint16)[0, 2] = 0x7E01  # a NaN with a payload
        stored.view(np.uint16)[0, 3] = 0x0001  # the smallest subnormal
        blocks = stored.view(np.uint8)
    else:
        blocks = quants.quantize(source, qtype)
    values = quants.dequantize(blocks, qtype).astype(np.float32)
    write("dequantize_%s.bin" % qtype.name.lower(), qtype, 2, 32, blocks, values)


def q8_k_reference(rng):
    """Q8_K: gguf-py cannot dequantize it, so ggml's dequantize_row_q8_K is the reference (float d, int8 qs, bsums)."""
    blocks = rng.integers(0, 256, (2, 292), dtype=np.uint8)
    blocks[0, 0:4] = np.frombuffer(np.float32(0.0371).tobytes(), dtype=np.uint8)
    blocks[1, 0:4] = np.frombuffer(np.float32(-2.5e30).tobytes(), dtype=np.uint8)
    write("dequantize_q8_k.bin", T.Q8_K, 2, 256, blocks, ggml_dequantize(T.Q8_K, blocks, 256))


def quantize_reference(rng, qtype, rows, columns):
    source = sample_rows(rng, rows, columns)
    block = GGML_QUANT_SIZES[qtype][0]
    # Blocks that test the edges: all zero, one value alone, values exactly on rounding ties, max negative.
    source[0, :block] = 0
    source[1, :block] = 0
    source[1, 3] = -7.25
    ties = (np.arange(block, dtype=np.float32) - block / 2) + 0.5
    source[2 % rows, block: 2 * block] = ties
    expected = ggml_quantize(qtype, source)
    if qtype in (T.Q8_0, T.Q4_0):
        assert np.array_equal(quants.quantize(source, qtype), expected), "gguf-py and ggml disagree on %s" % qtype.name
    write("quantize_%s.bin" % qtype.name.lower(), qtype, rows, columns, source, expected)


def llama_dot_reference(rng, qtype, rows, columns, x_rows):
    """ggml's CPU products: x to the vec_dot_type's blocks (AVX2 quantize_row_q8_0, or q8_K), then ggml_vec_dot."""
    k_type = qtype not in (T.Q4_0, T.Q8_0)
    weights = ggml_quantize(qtype, rng.standard_normal((rows, columns)).astype(np.float32) * 0.05)
    x = rng.standard_normal((x_rows, columns)).astype(np.float32)
    x[0, 37] = 30.0  # an activation outlier
    x[1 % x_rows, 300] = -25.0
    x_blocks = np.zeros(columns // (256 if k_type else 32) * (292 if k_type else 34), dtype=np.uint8)
    quantize_x = getattr(ggml_cpu, "quantize_row_q8_K" if k_type else "quantize_row_q8_0")
    quantize_x.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    dot = getattr(ggml_cpu, "ggml_vec_dot_%s_%s" % (qtype.name.lower().replace("_k", "_K"), "q8_K" if k_type else "q8_0"))
    dot.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    products = np.zeros((x_rows, rows), dtype=np.float32)
    result = np.zeros(1, dtype=np.float32)
    for r in range(x_rows):
        quantize_x(np.ascontiguousarray(x[r]).ctypes.data, x_blocks.ctypes.data, columns)
        for j in range(rows):
            dot(columns, result.ctypes.data, 0, np.ascontiguousarray(weights[j]).ctypes.data, 0, x_blocks.ctypes.data, 0, 1)
            products[r, j] = result[0]
    path = os.path.join(DATA, "llama_dot_%s.bin" % qtype.name.lower())
    with open(path, "wb") as f:
        f.write(struct.pack("<iiii", int(qtype), rows, columns, x_rows))
        f.write(weights.tobytes())
        f.write(x.tobytes())
        f.write(products.tobytes())
    print("%-28s %6d bytes" % (os.path.basename(path), os.path.getsize(path)))


def main():
    os.makedirs(DATA, exist_ok=True)
    rng = np.random.default_rng(20261)
    for qtype in (T.F16, T.BF16):
        plain_reference(rng, qtype)
    for qtype in (T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0):
        dequantize_reference(rng, qtype, 128, quantized_rows=4, crafted=3)
    for qtype in (T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K):
        dequantize_reference(rng, qtype, 256, quantized_rows=2, crafted=2)
    q8_k_reference(rng)
    for qtype in (T.Q8_0, T.Q4_0):
        quantize_reference(rng, qtype, 4, 128)
    for qtype in (T.Q4_K, T.Q5_K, T.Q6_K):
        quantize_reference(rng, qtype, 3, 512)
    for qtype in (T.Q4_0, T.Q8_0, T.Q4_K, T.Q5_K, T.Q6_K):
        llama_dot_reference(rng, qtype, 8, 512, 2)


if __name__ == "__main__":
    main()
