namespace Tessera.Planning;

/// <summary>
/// A number format a plan's weights or KV cache are held in, for planning; the engines hold weights as F32, BF16,
/// Q8_0 or Q4_0 (or as a GGUF file stores them), and their KV caches as F32.
/// </summary>
public enum PlanDType
{
    F32,
    BF16,
    F16,

    /// <summary>ggml's Q8_0: 34 bytes per 32 weights (weights only).</summary>
    Q8_0,

    /// <summary>ggml's Q4_0: 18 bytes per 32 weights (weights only).</summary>
    Q4_0,

    /// <summary>
    /// llama.cpp's Q4_K_M mix (weights only): Q4_K blocks (144 bytes per 256 weights) with Q6_K (210 per 256) for the
    /// output and for attn_v and ffn_down in about half the layers; priced at 4.89 bits per weight, the figure
    /// llama-quantize reports for Llama 3 8B. For planning: a Q4_K_M file is written by <c>tessera quantize</c> and
    /// runs as stored.
    /// </summary>
    Q4_K_M,
}

/// <summary>What the planner needs to know of a <see cref="PlanDType"/>.</summary>
public static class PlanDTypes
{
    /// <summary>Whether the format is one of ggml's quantized blocks (weights only; a KV cache is not held so).</summary>
    public static bool IsQuantized(this PlanDType dtype) => dtype is PlanDType.Q8_0 or PlanDType.Q4_0 or PlanDType.Q4_K_M;
}
