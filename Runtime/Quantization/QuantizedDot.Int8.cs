using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Quantization;

// DotRows with quantizeX, on AVX2: llama.cpp's CPU products for these types, x rounded bit for bit as ggml rounds it
// (its "vec_dot_type": Q8_0 blocks for Q4_0 and Q8_0 weights, Q8_K for the K types; see ActivationBlocks) and each
// block's product an integer dot product (vpmaddubsw: unsigned × signed bytes to 16-bit pair sums, vpmaddwd: to
// 32-bit) scaled once. So the result is, to F32 rounding, the exact product of the weights with x's 8-bit blocks
// (what llama.cpp computes); against widening every weight to F32 it takes a third to half the instructions (decode
// here, one thread: 1.1× the weights per second for Q8_0, near the memory's speed either way, 2–3.3× for the rest). x's rounding costs about 5e-3 (Q8_0) and 7e-3 (Q8_K) of the product's norm
// for normal x, more with activation outliers (a 30σ channel coarsens its whole block).
public static unsafe partial class QuantizedDot
{
    /// <summary>Per thread: the x rows in 8-bit blocks (see <see cref="Int8X"/>).</summary>
    [ThreadStatic]
    private static byte[]? _int8Scratch;

    private static bool HasInt8Kernel(GgmlType type) =>
        type is GgmlType.Q4_0 or GgmlType.Q8_0 or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K;

    /// <summary>
    /// x rows rounded to the 8-bit blocks weights of one type take (<see cref="RoundX"/>), for many
    /// <see cref="DotRows(GgmlType, byte*, long, in RoundedX, float*, int, int, int)"/> calls: a product split over
    /// threads in column chunks rounds x once, not once a chunk (per chunk it was ~10% of a 134M model's decode).
    /// </summary>
    public readonly struct RoundedX
    {
        internal RoundedX(Int8X blocks, int rows, bool superBlocks)
        {
            Blocks = blocks;
            Rows = rows;
            SuperBlocks = superBlocks;
        }

        internal Int8X Blocks { get; }

        /// <summary>x rows held.</summary>
        public int Rows { get; }

        /// <summary>Values per row.</summary>
        public int K => Blocks.K;

        internal bool SuperBlocks { get; }
    }

    /// <summary>
    /// x (xRows, k) rounded as llama.cpp rounds it for <paramref name="weights"/> (see <see cref="CanQuantizeX"/>),
    /// in the calling thread's scratch: valid, from any thread, until the calling thread rounds again.
    /// </summary>
    public static RoundedX RoundX(GgmlType weights, float* x, int xRows, int k)
    {
        if (!CanQuantizeX(weights)) throw new NotSupportedException($"There is no integer kernel for {GgmlTypes.Name(weights)} weights here.");
        bool superBlocks = weights is not (GgmlType.Q4_0 or GgmlType.Q8_0);
        return new RoundedX(QuantizeX(x, xRows, k, superBlocks), xRows, superBlocks);
    }

    /// <summary>
    /// <see cref="DotRows(GgmlType, byte*, long, int, float*, int, float*, int, int, int, bool)"/> with quantizeX over
    /// x already rounded for <paramref name="type"/> (<see cref="RoundX"/>).
    /// </summary>
    public static void DotRows(GgmlType type, byte* w, long rowBytes, in RoundedX x, float* y, int n, int n0, int n1)
    {
        if (x.SuperBlocks != type is not (GgmlType.Q4_0 or GgmlType.Q8_0) || !CanQuantizeX(type))
            throw new ArgumentException($"x was rounded for other weights than {GgmlTypes.Name(type)}.", nameof(x));
        if (rowBytes < GgmlTypes.RowBytes(type, x.K))
            throw new ArgumentException($"A {GgmlTypes.Name(type)} row of {x.K} values takes more than the {rowBytes} bytes between rows.", nameof(rowBytes));
        CheckRange(x.Rows, n, n0, n1);
        if (n0 == n1 || x.Rows == 0) return;
        DotInt8(type, w, rowBytes, x.Blocks, x.Rows, y, n, n0, n1);
    }

    /// <summary><see cref="RoundX(GgmlType, float*, int, int)"/> over a span of at least xRows · k values.</summary>
    public static RoundedX RoundX(GgmlType weights, ReadOnlySpan<float> x, int xRows, int k)
    {
        if (x.Length < (long)xRows * k) throw new ArgumentException($"{xRows} x rows of {k} values do not fit in {x.Length}.", nameof(x));
        fixed (float* px = x) return RoundX(weights, px, xRows, k);
    }

    /// <summary>
    /// <see cref="DotRows(GgmlType, byte*, long, in RoundedX, float*, int, int, int)"/> over spans, which must hold
    /// every weight row read (up to row <paramref name="n1"/>) and the (x.Rows, n) y.
    /// </summary>
    public static void DotRows(GgmlType type, ReadOnlySpan<byte> w, long rowBytes, in RoundedX x, Span<float> y, int n, int n0, int n1)
    {
        CheckRange(x.Rows, n, n0, n1);
        if (n0 < n1 && w.Length < (n1 - 1) * rowBytes + GgmlTypes.RowBytes(type, x.K))
            throw new ArgumentException($"Weight rows up to {n1} of {rowBytes} bytes do not fit in {w.Length} bytes.", nameof(w));
        if (x.Rows > 0 && y.Length < (long)(x.Rows - 1) * n + n1)
            throw new ArgumentException($"{x.Rows} y rows of {n} values do not fit in {y.Length}.", nameof(y));
        fixed (byte* pw = w)
        fixed (float* py = y)
            DotRows(type, pw, rowBytes, x, py, n, n0, n1);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotInt8(GgmlType type, byte* w, long rowBytes, int k, float* x, int xRows, float* y, int n, int n0, int n1) =>
        DotInt8(type, w, rowBytes, QuantizeX(x, xRows, k, superBlocks: type is not (GgmlType.Q4_0 or GgmlType.Q8_0)), xRows, y, n, n0, n1);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotInt8(GgmlType type, byte* w, long rowBytes, Int8X xq, int xRows, float* y, int n, int n0, int n1)
    {
        // Row j pairs with row j + half (two streams far apart in memory); an odd count's middle row pairs with itself.
        int count = n1 - n0, half = (count + 1) / 2;
        for (int i = 0; i < half; i++)
        {
            int j0 = n0 + i, j1 = i + half < count ? j0 + half : j0;
            byte* w0 = w + j0 * rowBytes, w1 = w + j1 * rowBytes;
            for (int r = 0; r < xRows; r++)
            {
                float* yr = y + (long)r * n;
                // The two-row kernels take rows r and r + 1 (the extra r++ skips the second).
                switch (type)
                {
                    case GgmlType.Q4_0 when r + 1 < xRows: Q4_0Int8<Two>(w0, w1, xq, r++, yr, n, j0, j1); break;
                    case GgmlType.Q4_0: Q4_0Int8<One>(w0, w1, xq, r, yr, n, j0, j1); break;
                    case GgmlType.Q8_0 when r + 1 < xRows: Q8_0Int8<Two>(w0, w1, xq, r++, yr, n, j0, j1); break;
                    case GgmlType.Q8_0: Q8_0Int8<One>(w0, w1, xq, r, yr, n, j0, j1); break;
                    case GgmlType.Q4_K: Q4_KInt8(w0, w1, xq, r, out yr[j0], out yr[j1]); break;
                    case GgmlType.Q5_K: Q5_KInt8(w0, w1, xq, r, out yr[j0], out yr[j1]); break;
                    case GgmlType.Q6_K: Q6_KInt8(w0, w1, xq, r, out yr[j0], out yr[j1]); break;
                }
            }
        }
    }

    /// <summary>
    /// x rows in 8-bit blocks (Q8_0's 32 values or Q8_K's 256): values (rows, k); per block its d_x (rows, blocks)
    /// and, for Q8_0, d_x·Σq_x (Q4_0's offset); per 16 values Σq_x (rows, k/16), for the K types' mins and offsets.
    /// </summary>
    internal readonly struct Int8X(sbyte* values, float* scales, float* sums, short* groupSums, int k, int blocks)
    {
        public readonly sbyte* Values = values;
        public readonly float* Scales = scales;
        public readonly float* Sums = sums;
        public readonly short* GroupSums = groupSums;
        public readonly int K = k;
        public readonly int Blocks = blocks;
    }

    private interface IRowCount
    {
        static abstract int Count { get; }
    }

    private readonly struct One : IRowCount
    {
        public static int Count => 1;
    }

    private readonly struct Two : IRowCount
    {
        public static int Count => 2;
    }

    /// <summary>All x rows to Q8_0 blocks (or Q8_K with <paramref name="superBlocks"/>), into this thread's scratch.</summary>
    private static Int8X QuantizeX(float* x, int xRows, int k, bool superBlocks)
    {
        int blocks = k / (superBlocks ? GgmlTypes.SuperBlock : 32), groups = k / 16;
        long bytes = (long)xRows * k + 2L * xRows * blocks * sizeof(float) + (long)xRows * groups * sizeof(short);
        if (_int8Scratch is null || _int8Scratch.LongLength < bytes)
            _int8Scratch = GC.AllocateUninitializedArray<byte>((int)Math.Max(bytes, 4096), pinned: true);
        // The pinned object heap never moves the array, so the pointer outlives this method.
        var values = (sbyte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_int8Scratch));
        var scales = (float*)(values + (long)xRows * k);
        var sums = scales + (long)xRows * blocks;
        var groupSums = (short*)(sums + (long)xRows * blocks);
        for (long r = 0; r < xRows; r++)
        {
            if (superBlocks) QuantizeXQ8_K(x + r * k, k, values + r * k, scales + r * blocks, groupSums + r * groups);
            else QuantizeXQ8_0(x + r * k, k, values + r * k, scales + r * blocks, sums + r * blocks, groupSums + r * groups);
        }
        return new Int8X(values, scales, sums, groupSums, k, blocks);
    }

    /// <summary>
    /// ggml's AVX2 quantize_row_q8_0: d = max|x| / 127, kept as F16 (the product multiplies by the F16 value),
    /// q = x · (127 / max|x|) rounded to nearest even.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void QuantizeXQ8_0(float* x, int k, sbyte* values, float* scales, float* sums, short* groupSums)
    {
        for (int b = 0; b < k / 32; b++, x += 32, values += 32, groupSums += 2)
        {
            float amax = LargestMagnitude(x, 32);
            float d = (float)(Half)(amax / 127f);
            int sum = RoundAndPack(x, Vector256.Create(amax != 0 ? 127f / amax : 0f), values, groupSums);
            scales[b] = d;
            sums[b] = d * sum;
        }
    }

    /// <summary>
    /// ggml's quantize_row_q8_K_ref: the value of largest magnitude (the first such) sets iscale = −127 / max,
    /// q = iscale · x rounded to nearest even, d = 1 / iscale in F32.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void QuantizeXQ8_K(float* x, int k, sbyte* values, float* scales, short* groupSums)
    {
        for (int b = 0; b < k / GgmlTypes.SuperBlock; b++, x += 256, values += 256, groupSums += 16)
        {
            float amax = LargestMagnitude(x, 256), max = 0;
            for (int i = 0; i < 256; i++)
            {
                if (Math.Abs(x[i]) == amax)
                {
                    max = x[i];
                    break;
                }
            }
            float iscale = amax != 0 ? -127f / max : 0f;
            for (int i = 0; i < 256; i += 32) RoundAndPack(x + i, Vector256.Create(iscale), values + i, groupSums + i / 16);
            scales[b] = amax != 0 ? 1 / iscale : 0f;
        }
    }

    private static float LargestMagnitude(float* x, int count)
    {
        var signBit = Vector256.Create(-0f);
        var largest = Vector256<float>.Zero;
        for (int i = 0; i < count; i += 8) largest = Avx.Max(largest, Avx.AndNot(signBit, Avx.LoadVector256(x + i)));
        var m = Sse.Max(largest.GetLower(), largest.GetUpper());
        m = Sse.Max(m, Sse.Shuffle(m, m, 0b_01_00_11_10));
        return Sse.Max(m, Sse.Shuffle(m, m, 0b_10_11_00_01)).ToScalar();
    }

    /// <summary>
    /// 32 values times <paramref name="scale"/>, rounded to nearest even (the default MXCSR mode), to 32 bytes; their
    /// two sums per 16 to <paramref name="groupSums"/>. Returns the sum of all 32.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int RoundAndPack(float* x, Vector256<float> scale, sbyte* values, short* groupSums)
    {
        var i0 = Avx.ConvertToVector256Int32(Avx.Multiply(Avx.LoadVector256(x), scale));
        var i1 = Avx.ConvertToVector256Int32(Avx.Multiply(Avx.LoadVector256(x + 8), scale));
        var i2 = Avx.ConvertToVector256Int32(Avx.Multiply(Avx.LoadVector256(x + 16), scale));
        var i3 = Avx.ConvertToVector256Int32(Avx.Multiply(Avx.LoadVector256(x + 24), scale));
        int low = Vector256.Sum(i0 + i1), high = Vector256.Sum(i2 + i3);
        groupSums[0] = (short)low;
        groupSums[1] = (short)high;
        // The packs interleave the 128-bit lanes; the permutation puts the 32 bytes back in order.
        var bytes = Avx2.PackSignedSaturate(Avx2.PackSignedSaturate(i0, i1), Avx2.PackSignedSaturate(i2, i3));
        Avx.Store(values, Avx2.PermuteVar8x32(bytes.AsInt32(), Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7)).AsSByte());
        return low + high;
    }

    /// <summary>
    /// Σ u·s over 32 byte pairs, as eight F32 partial sums. The 16-bit pair sums cannot saturate: |u| ≤ 128 and
    /// |s| ≤ 127 give at most 32512.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> ByteDot(Vector256<byte> unsigned, Vector256<sbyte> signed, Vector256<short> ones) =>
        Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(unsigned, signed), ones));
}
