namespace Tessera.Cpu;

/// <summary>How matrix weights are held in memory.</summary>
public enum WeightPrecision
{
    /// <summary>4 bytes per weight, exact.</summary>
    F32,

    /// <summary>
    /// 2 bytes per weight (bfloat16: F32's exponent, 8 bits of mantissa), widened to F32 inside the kernels, which
    /// still accumulate in F32. Decode reads half the bytes, and decode is bound by reading the weights.
    /// </summary>
    BF16,

    /// <summary>
    /// As the checkpoint stores them: block-quantized matrices (a GGUF file's Q8_0, Q4_K, ...) stay quantized and are
    /// multiplied as stored, BF16 stays BF16, F16 and F32 become F32.
    /// </summary>
    Stored,

    /// <summary>Quantized at load to ggml's Q8_0: blocks of 32 int8 values and one F16 scale, 8.5 bits a weight.</summary>
    Q8_0,

    /// <summary>Quantized at load to ggml's Q4_0: blocks of 32 4-bit values and one F16 scale, 4.5 bits a weight.</summary>
    Q4_0,
}
