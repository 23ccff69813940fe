using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Quantization;

/// <summary>
/// The CPU products of F32 activations with weights kept in ggml's block formats, for decode and small batches: each
/// output is the dot product of an x row with a weight row, the weights read from memory once per call for all x rows.
/// </summary>
/// <remarks>
/// Two kinds of kernel:
/// <list type="bullet">
/// <item>Exact (the default): the weights are widened to F32 as they stream in and multiplied with x in F32, the
/// product of the dequantized weights to F32 rounding (1e-6). One x row (decode) has register kernels for Q4_0, Q8_0,
/// Q4_K, Q5_K and Q6_K (QuantizedDot.F32*.cs); several x rows, and every other type, dequantize chunks of the weight
/// rows into a buffer that stays in L1 (QuantizedDot.Dequantized.cs).</item>
/// <item>With <c>quantizeX</c>, for Q4_0, Q8_0, Q4_K, Q5_K, Q6_K on AVX2: x rounded to 8 bits and integer dot products,
/// as llama.cpp's CPU back end multiplies, x rounded bit for bit as ggml rounds it (QuantizedDot.Int8*.cs): up to 3×
/// the exact kernels' speed in decode, about 5e-3 of the product's norm from the exact product.</item>
/// </list>
/// </remarks>
public static unsafe partial class QuantizedDot
{
    /// <summary>
    /// For every x row r &lt; <paramref name="xRows"/> and weight row j in [<paramref name="n0"/>, <paramref name="n1"/>):
    /// <c>y[r·n + j] = Σ_i x[r·k + i] · dequant(w row j)[i]</c>, where weight row j is <paramref name="rowBytes"/>
    /// bytes from <c>w + j·rowBytes</c>. Other entries of y are left as they were. Single-threaded: callers split
    /// [0, n) between threads.
    /// </summary>
    /// <param name="type">The weights' block format; <see cref="Supports"/> says which.</param>
    /// <param name="w">Weight row 0 (rows of <paramref name="k"/> values, <paramref name="rowBytes"/> apart).</param>
    /// <param name="rowBytes">Bytes from one weight row to the next, at least <see cref="GgmlTypes.RowBytes"/>.</param>
    /// <param name="k">Values per row: a whole number of <paramref name="type"/>'s blocks.</param>
    /// <param name="x">(xRows, k) activations.</param>
    /// <param name="xRows">Rows of x: 1 for decode, a few for small batches.</param>
    /// <param name="y">(xRows, n) outputs.</param>
    /// <param name="n">Weight rows in all (y's row stride).</param>
    /// <param name="n0">First weight row to compute.</param>
    /// <param name="n1">End of the weight rows to compute.</param>
    /// <param name="quantizeX">
    /// Round x as llama.cpp does (to Q8_0 blocks for Q4_0 and Q8_0 weights, Q8_K for the K types, bit for bit) and
    /// take integer dot products, where <see cref="CanQuantizeX"/> says there is such a kernel (elsewhere the exact
    /// kernels run): llama.cpp's products to F32 rounding, faster, and each output the same bits whatever the rest of
    /// the call; about 5e-3 (Q8_0) to 7e-3 (Q8_K) of the product's norm from the exact product for normal x, more
    /// with activation outliers (3% with a few 30σ channels and Q8_K blocks).
    /// </param>
    public static void DotRows(GgmlType type, byte* w, long rowBytes, int k, float* x, int xRows, float* y, int n, int n0, int n1, bool quantizeX = false)
    {
        if (!Supports(type))
            throw new NotSupportedException($"Tessera has no CPU product for {GgmlTypes.Name(type)} weights.");
        long needed = GgmlTypes.RowBytes(type, k);
        if (rowBytes < needed)
            throw new ArgumentException($"A {GgmlTypes.Name(type)} row of {k} values takes {needed} bytes, more than the {rowBytes} between rows.", nameof(rowBytes));
        CheckRange(xRows, n, n0, n1);
        if (n0 == n1 || xRows == 0) return;
        Dot(type, w, rowBytes, k, x, xRows, y, n, n0, n1, quantizeX);
    }

    /// <summary>
    /// <see cref="DotRows(GgmlType, byte*, long, int, float*, int, float*, int, int, int, bool)"/> over spans, which
    /// must hold every weight row read (up to row <paramref name="n1"/>), the (xRows, k) x and the (xRows, n) y.
    /// </summary>
    public static void DotRows(GgmlType type, ReadOnlySpan<byte> w, long rowBytes, int k, ReadOnlySpan<float> x, int xRows, Span<float> y, int n, int n0, int n1, bool quantizeX = false)
    {
        CheckRange(xRows, n, n0, n1);
        if (n0 < n1 && w.Length < (n1 - 1) * rowBytes + GgmlTypes.RowBytes(type, k))
            throw new ArgumentException($"Weight rows up to {n1} of {rowBytes} bytes do not fit in {w.Length} bytes.", nameof(w));
        if (x.Length < (long)xRows * k)
            throw new ArgumentException($"{xRows} x rows of {k} values do not fit in {x.Length}.", nameof(x));
        if (xRows > 0 && y.Length < (long)(xRows - 1) * n + n1)
            throw new ArgumentException($"{xRows} y rows of {n} values do not fit in {y.Length}.", nameof(y));
        fixed (byte* pw = w)
        fixed (float* px = x)
        fixed (float* py = y)
            DotRows(type, pw, rowBytes, k, px, xRows, py, n, n0, n1, quantizeX);
    }

    /// <summary>Whether <c>DotRows</c> takes weights of <paramref name="type"/>: every type Tessera can dequantize.</summary>
    public static bool Supports(GgmlType type) => GgmlTypes.CanDequantize(type);

    /// <summary>Whether <c>DotRows</c> with <c>quantizeX</c> has an integer kernel for <paramref name="type"/> on this machine.</summary>
    public static bool CanQuantizeX(GgmlType type) => Avx2.IsSupported && Fma.IsSupported && HasInt8Kernel(type);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot(GgmlType type, byte* w, long rowBytes, int k, float* x, int xRows, float* y, int n, int n0, int n1, bool quantizeX)
    {
        if (quantizeX && CanQuantizeX(type)) DotInt8(type, w, rowBytes, k, x, xRows, y, n, n0, n1);
        else if (xRows == 1 && Avx2.IsSupported && Fma.IsSupported && HasF32Kernel(type)) DotF32(type, w, rowBytes, k, x, y, n0, n1);
        else DotDequantized(type, w, rowBytes, k, x, xRows, y, n, n0, n1);
    }

    private static void CheckRange(int xRows, int n, int n0, int n1)
    {
        if (xRows < 0 || n0 < 0 || n0 > n1 || n1 > n)
            throw new ArgumentOutOfRangeException(nameof(n1), $"Weight rows [{n0}, {n1}) of {n} for {xRows} x rows.");
    }
}
