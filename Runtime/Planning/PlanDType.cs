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
}
