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
}
