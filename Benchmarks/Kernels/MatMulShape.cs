namespace Tessera.Benchmarks.Kernels;

/// <summary>One matrix product y (T, N) = x (T, K) · wᵀ; the name reads "TxKxN".</summary>
/// <param name="T">rows (tokens)</param>
/// <param name="K">input features</param>
/// <param name="N">output features</param>
public sealed record MatMulShape(int T, int K, int N)
{
    public double Flops => 2.0 * T * K * N;

    public override string ToString() => $"{T}x{K}x{N}";

    /// <summary>Decode (T = 1) and prefill (T = 128) for GPT-2-small-sized projections, plus a square 2048 product.</summary>
    public static readonly MatMulShape[] Standard =
    [
        new(1, 768, 768), new(1, 768, 3072), new(1, 2048, 2048),
        new(128, 768, 768), new(128, 768, 3072), new(2048, 2048, 2048),
    ];
}
