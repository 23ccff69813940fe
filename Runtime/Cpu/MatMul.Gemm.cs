using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Cpu;

// Prefill (T >= GemmMinRows): a blocked GEMM that packs the activations, not the weights. Weights are (N, K) with K
// contiguous; vectorising over N would need w transposed, and packing w costs a pass over every weight on every
// call (caching a packed copy would double weight memory). x is small (T x K), so it is packed once per call into
// K-major tiles of 64 rows, xp[tile][k][0..64), and the micro-kernel computes a 6 (columns of y) x 64 (rows of y)
// block: per k it loads 4 vectors of 16 x values, broadcasts one weight from each of 6 w rows, and issues 24 FMAs
// into 24 zmm accumulators. The 6 w rows stream through L1 along K; the x tile (64 K floats) stays in L2 while a
// worker walks its columns. The block is stored transposed into y (1/K of the work). Without AVX-512 the same tiles
// and split run a narrower micro-kernel (GemmBlock256 in MatMul.Portable.cs).
public static partial class CpuKernels
{
    private const int GemmRows = 64;   // rows of x per packed tile: 4 vectors of 16 lanes
    private const int GemmCols = 6;    // w rows (columns of y) per micro-tile: 6 x 4 accumulators + 4 x + 1 broadcast < 32 zmm
    private const int GemmChunk = 252; // columns per work item (a multiple of GemmCols): the epilogue unit
    // K per pass: a 64 x 1024 slice of packed x (256 KiB) stays in L2. Measured on Zen 5: 512 or 256 lose 5-30% to
    // the extra passes over y, and K <= 1024 (most projections) needs one pass anyway.
    private const int GemmDepth = 1024;

    /// <summary>
    /// The GEMM of x with one or more weight matrices (the products of one input, MatMul.Fused.cs): x packed once,
    /// every product's (tile, column chunk) items split over the team as one range. F32 weights, BF16 weights through
    /// the AVX512-BF16 kernel (x packed as BF16 pairs, MatMul.Bf16Gemm.cs), or BF16 weights widened a column chunk
    /// at a time.
    /// </summary>
    private static unsafe void Gemm(CpuExecution cpu, float[] x, int rows, int k, MatMulTarget[] targets, CpuIsa isa)
    {
        bool pairs = isa == CpuIsa.Avx512Bf16 && k >= 2 && targets.All(t => t.W.BF16 is not null);
        int tiles = (rows + GemmRows - 1) / GemmRows;
        long packed = pairs ? (long)tiles * (k / 2) * Native.Bf16DotKernels.PairStride : (long)tiles * GemmRows * k;
        if (packed > Array.MaxLength) throw new ArgumentException($"MatMul activations ({rows}, {k}) are too large to pack.");
        float[]? xp = pairs ? null : ArrayPool<float>.Shared.Rent((int)Math.Max(packed, 1));
        uint[]? xpPairs = pairs ? ArrayPool<uint>.Shared.Rent((int)packed) : null;
        try
        {
            int blocks = targets.Sum(t => (t.N + GemmCols - 1) / GemmCols);
            int workers = CpuParallel.Workers(cpu, tiles * blocks, 2L * GemmRows * k * GemmCols);
            // The tiles are packed by as many of the product's workers as there are tiles: a tile is only ~10 µs of
            // work, but packing them on the caller alone kept the other cores waiting for 5-7% of a small model's prefill.
            CpuParallel.ForRanges(tiles, Math.Min(tiles, workers), (start, end) =>
            {
                for (int t = start; t < end; t++)
                    if (pairs) PackBf16Pairs(x, rows, k, xpPairs!, t);
                    else PackRows(x, rows, k, xp!, t);
            });

            var items = new GemmItemsOf(targets, tiles, workers);
            int widened = pairs || targets.All(t => t.W.F32 is not null) ? 0 : items.WidenedFloats(k);
            CpuParallel.ForRanges(items.Count, workers, (start, end) =>
            {
                // BF16 without the BF16 kernel, and block-quantized weights: each item widens (dequantizes) its column
                // chunk of w into this worker's F32 buffer (the chunk stays in cache for the tile); that costs
                // 1 / (2 x 64 x tiles) of its multiply-adds.
                float[]? buffer = widened > 0 ? ArrayPool<float>.Shared.Rent(widened) : null;
                try
                {
                    for (int item = start; item < end; item++)
                        foreach (var (target, local) in items.At(item))
                        {
                            var (w, n, y, epilogue) = targets[target];
                            var (chunks, chunkCols) = items.Chunking[target];
                            if (pairs) Bf16DotItems(xpPairs!, x, rows, k, w.BF16!, n, y, epilogue, chunks, chunkCols, local, local + 1);
                            else if (w.F32 is { } f32) GemmItems(xp!, rows, k, f32, null, n, y, epilogue, chunks, chunkCols, local, local + 1, isa);
                            else GemmItems(xp!, rows, k, buffer!, w, n, y, epilogue, chunks, chunkCols, local, local + 1, isa);
                        }
                }
                finally
                {
                    if (buffer is not null) ArrayPool<float>.Shared.Return(buffer);
                }
            });
        }
        finally
        {
            if (xp is not null) ArrayPool<float>.Shared.Return(xp);
            if (xpPairs is not null) ArrayPool<uint>.Shared.Return(xpPairs);
        }
    }

    /// <summary>
    /// The items of a GEMM over several products and what each covers. Equally wide products share their items: item
    /// (tile, chunk) runs every product's (tile, chunk) in order on one thread, so a product's epilogue may read an
    /// earlier product's finished segment (SwiGLU). Otherwise the products' items follow one another.
    /// </summary>
    private sealed class GemmItemsOf
    {
        private readonly int[] _first; // first item of each product (unaligned)
        private readonly bool _aligned;
        private readonly int _targets;

        public GemmItemsOf(MatMulTarget[] targets, int tiles, int workers)
        {
            _targets = targets.Length;
            _aligned = targets.All(t => t.N == targets[0].N);
            Chunking = targets.Select(t => GemmChunks(t.N, tiles, workers)).ToArray();
            _first = new int[targets.Length + 1];
            for (int i = 0; i < targets.Length; i++) _first[i + 1] = _first[i] + tiles * Chunking[i].Chunks;
            Count = _aligned ? tiles * Chunking[0].Chunks : _first[^1];
        }

        /// <summary>(chunks, columns per chunk) of each product.</summary>
        public (int Chunks, int ChunkCols)[] Chunking { get; }

        public int Count { get; }

        /// <summary>The (product, its item index) pairs item <paramref name="item"/> runs, in order.</summary>
        public IEnumerable<(int Target, int Local)> At(int item)
        {
            if (_aligned)
            {
                for (int i = 0; i < _targets; i++) yield return (i, item);
                yield break;
            }
            int target = 0;
            while (item >= _first[target + 1]) target++;
            yield return (target, item - _first[target]);
        }

        /// <summary>Floats of the widening buffer a worker needs: the widest chunk of any product, times K.</summary>
        public int WidenedFloats(int k) => Chunking.Max(c => c.ChunkCols) * k;
    }

    /// <summary>
    /// Work items are (tile, column chunk), tile-major, split into contiguous ranges: a worker keeps its x tile in its
    /// own L2 and streams its columns of w past it. Chunks are whole micro-tiles, enough that every worker gets the
    /// same number of items (few tiles: the columns are split finer).
    /// </summary>
    private static (int Chunks, int ChunkCols) GemmChunks(int n, int tiles, int workers)
    {
        int blocks = (n + GemmCols - 1) / GemmCols;
        int chunks = (n + GemmChunk - 1) / GemmChunk;
        if (chunks < workers) chunks = Math.Min(workers, blocks);
        while ((tiles * chunks) % workers != 0 && chunks < blocks) chunks++;
        int chunkCols = (((n + chunks - 1) / chunks) + GemmCols - 1) / GemmCols * GemmCols;
        return ((n + chunkCols - 1) / chunkCols, chunkCols);
    }

    /// <summary>xp[tile][kk][t] = x[tile * 64 + t, kk]; rows past the end are zero so padded lanes add nothing.</summary>
    /// <remarks>
    /// A transpose: with AVX, 8 x 8 blocks in registers (8 loads, 24 shuffles, 8 stores per 64 values); element by
    /// element it was 5% of a small model's prefill.
    /// </remarks>
    // Hot loop: compiled fully optimised at once; tier-0 code of Vector512 loops is many times slower.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void PackRows(float[] x, int rows, int k, float[] xp, int tile)
    {
        int t0 = tile * GemmRows, count = Math.Min(GemmRows, rows - t0);
        var dst = xp.AsSpan(tile * GemmRows * k, GemmRows * k);
        if (count < GemmRows) dst.Clear();
        int t = 0;
        if (Avx.IsSupported)
        {
            fixed (float* px = x, pd = dst)
                for (; t + 8 <= count; t += 8)
                {
                    float* src = px + (long)(t0 + t) * k;
                    int kk = 0;
                    for (; kk + 8 <= k; kk += 8) Transpose8x8(src + kk, k, pd + (long)kk * GemmRows + t, GemmRows);
                    for (; kk < k; kk++)
                        for (int r = 0; r < 8; r++) pd[(long)kk * GemmRows + t + r] = src[(long)r * k + kk];
                }
        }
        for (; t < count; t++)
        {
            var src = x.AsSpan((t0 + t) * k, k);
            for (int kk = 0; kk < src.Length; kk++) dst[kk * GemmRows + t] = src[kk];
        }
    }

    /// <summary>dst[c * dstStride + r] = src[r * srcStride + c] for an 8 x 8 block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Transpose8x8(float* src, nint srcStride, float* dst, nint dstStride)
    {
        var r0 = Avx.LoadVector256(src);
        var r1 = Avx.LoadVector256(src + srcStride);
        var r2 = Avx.LoadVector256(src + 2 * srcStride);
        var r3 = Avx.LoadVector256(src + 3 * srcStride);
        var r4 = Avx.LoadVector256(src + 4 * srcStride);
        var r5 = Avx.LoadVector256(src + 5 * srcStride);
        var r6 = Avx.LoadVector256(src + 6 * srcStride);
        var r7 = Avx.LoadVector256(src + 7 * srcStride);
        Transpose8x8(ref r0, ref r1, ref r2, ref r3, ref r4, ref r5, ref r6, ref r7);
        Avx.Store(dst, r0);
        Avx.Store(dst + dstStride, r1);
        Avx.Store(dst + 2 * dstStride, r2);
        Avx.Store(dst + 3 * dstStride, r3);
        Avx.Store(dst + 4 * dstStride, r4);
        Avx.Store(dst + 5 * dstStride, r5);
        Avx.Store(dst + 6 * dstStride, r6);
        Avx.Store(dst + 7 * dstStride, r7);
    }

    /// <summary>The 8 x 8 matrix whose rows are r0 .. r7, transposed in registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(ref Vector256<float> r0, ref Vector256<float> r1, ref Vector256<float> r2, ref Vector256<float> r3,
        ref Vector256<float> r4, ref Vector256<float> r5, ref Vector256<float> r6, ref Vector256<float> r7)
    {
        // Pairs of rows interleaved, then pairs of pairs, then the 128-bit halves swapped across.
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var s0 = Avx.Shuffle(t0, t2, 0x44); var s1 = Avx.Shuffle(t0, t2, 0xEE);
        var s2 = Avx.Shuffle(t1, t3, 0x44); var s3 = Avx.Shuffle(t1, t3, 0xEE);
        var s4 = Avx.Shuffle(t4, t6, 0x44); var s5 = Avx.Shuffle(t4, t6, 0xEE);
        var s6 = Avx.Shuffle(t5, t7, 0x44); var s7 = Avx.Shuffle(t5, t7, 0xEE);
        r0 = Avx.Permute2x128(s0, s4, 0x20);
        r1 = Avx.Permute2x128(s1, s5, 0x20);
        r2 = Avx.Permute2x128(s2, s6, 0x20);
        r3 = Avx.Permute2x128(s3, s7, 0x20);
        r4 = Avx.Permute2x128(s0, s4, 0x31);
        r5 = Avx.Permute2x128(s1, s5, 0x31);
        r6 = Avx.Permute2x128(s2, s6, 0x31);
        r7 = Avx.Permute2x128(s3, s7, 0x31);
    }

    /// <summary>
    /// y[t, c] = block[c][t] (or += when <paramref name="accumulate"/>) for t &lt; rows, c &lt; cols: the micro-kernel's
    /// 6 x 64 block written into rows of y, n apart.
    /// </summary>
    /// <remarks>
    /// With AVX-512 eight rows at a time: the 6 block rows (and 2 zero rows) transposed in registers, each y row written
    /// with one masked store of its 6 columns (the columns past them may belong to another worker). Element by element
    /// this was 9% of a 134M model's prefill.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void StoreBlock(float* block, int rows, int cols, float* y, int n, bool accumulate)
    {
        int t = 0;
        if (Avx512F.VL.IsSupported)
        {
            var mask = Vector256.LessThan(Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7), Vector256.Create(cols)).AsSingle();
            for (; t + 8 <= rows; t += 8)
            {
                var r0 = Avx.LoadVector256(block + t);
                var r1 = Avx.LoadVector256(block + GemmRows + t);
                var r2 = Avx.LoadVector256(block + 2 * GemmRows + t);
                var r3 = Avx.LoadVector256(block + 3 * GemmRows + t);
                var r4 = Avx.LoadVector256(block + 4 * GemmRows + t);
                var r5 = Avx.LoadVector256(block + 5 * GemmRows + t);
                Vector256<float> r6 = default, r7 = default;
                Transpose8x8(ref r0, ref r1, ref r2, ref r3, ref r4, ref r5, ref r6, ref r7);
                float* yt = y + (long)t * n;
                StoreMasked(yt, mask, r0, accumulate);
                StoreMasked(yt + n, mask, r1, accumulate);
                StoreMasked(yt + 2L * n, mask, r2, accumulate);
                StoreMasked(yt + 3L * n, mask, r3, accumulate);
                StoreMasked(yt + 4L * n, mask, r4, accumulate);
                StoreMasked(yt + 5L * n, mask, r5, accumulate);
                StoreMasked(yt + 6L * n, mask, r6, accumulate);
                StoreMasked(yt + 7L * n, mask, r7, accumulate);
            }
        }
        for (; t < rows; t++)
        {
            float* yt = y + (long)t * n;
            if (accumulate) for (int c = 0; c < cols; c++) yt[c] += block[c * GemmRows + t];
            else for (int c = 0; c < cols; c++) yt[c] = block[c * GemmRows + t];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void StoreMasked(float* dst, Vector256<float> mask, Vector256<float> value, bool accumulate)
    {
        if (accumulate) value += Avx512F.VL.MaskLoad(dst, mask, Vector256<float>.Zero);
        Avx512F.VL.MaskStore(dst, mask, value);
    }

    // Hot loop: compiled fully optimised at once; tier-0 code of Vector512 loops is many times slower.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    /// <param name="wArray">the F32 weights, or (when <paramref name="widened"/> is set) a chunk-sized buffer to widen into</param>
    /// <param name="widened">BF16 or block-quantized weights, widened to F32 a column chunk at a time</param>
    private static unsafe void GemmItems(float[] xpArray, int rows, int k, float[] wArray, WeightMatrix? widened, int n, float[] yArray, Epilogue? epilogue,
        int chunks, int chunkCols, int start, int end, CpuIsa isa)
    {
        float* block = stackalloc float[GemmCols * GemmRows];
        int widenedChunk = -1;
        fixed (float* xp = xpArray, wBuffer = wArray, y = yArray)
        {
            for (int item = start; item < end; item++)
            {
                int tile = item / chunks, t0 = tile * GemmRows, tr = Math.Min(GemmRows, rows - t0);
                int n0 = item % chunks * chunkCols, n1 = Math.Min(n, n0 + chunkCols);
                float* w = wBuffer;
                if (widened is not null)
                {
                    if (widenedChunk != item % chunks)
                    {
                        int count = (n1 - n0) * k;
                        if (widened.BF16 is { } bf16) WeightMatrix.Widen(bf16.AsSpan(n0 * k, count), new Span<float>(wBuffer, count), isa);
                        else
                            for (int j = n0; j < n1; j++)
                                Quantization.Dequantize.Row(widened.Quantized!.Type, widened.Quantized.Row(j), new Span<float>(wBuffer + (long)(j - n0) * k, k));
                        widenedChunk = item % chunks;
                    }
                    w = wBuffer - (long)n0 * k; // so that w + j * k addresses row j of the chunk
                }
                float* xt = xp + (long)tile * GemmRows * k;
                // K in slices of GemmDepth: the slice of the x tile re-read for every 6 columns stays in L2 (a whole
                // 64 x 8192 tile would not); later slices add into y.
                for (int k0 = 0; k0 < k || k0 == 0; k0 += GemmDepth)
                {
                    int depth = Math.Min(GemmDepth, k - k0);
                    for (int j = n0; j < n1; j += GemmCols)
                    {
                        int cols = Math.Min(GemmCols, n1 - j);
                        // A short last block repeats row j instead of reading past w; the repeats are dropped on store.
                        nint o1 = cols > 1 ? k : 0, o2 = cols > 2 ? 2 * k : 0, o3 = cols > 3 ? 3 * k : 0;
                        nint o4 = cols > 4 ? 4 * k : 0, o5 = cols > 5 ? 5 * k : 0;
                        float* wj = w + (long)j * k + k0;
                        float* xs = xt + (long)k0 * GemmRows;
                        if (isa >= CpuIsa.Avx512)
                        {
                            switch ((tr + 15) >> 4)
                            {
                                case 4: GemmKernel<Four>(wj, o1, o2, o3, o4, o5, depth, xs, block); break;
                                case 3: GemmKernel<Three>(wj, o1, o2, o3, o4, o5, depth, xs, block); break;
                                case 2: GemmKernel<Two>(wj, o1, o2, o3, o4, o5, depth, xs, block); break;
                                default: GemmKernel<One>(wj, o1, o2, o3, o4, o5, depth, xs, block); break;
                            }
                        }
                        else if (isa == CpuIsa.Vector256Fma) GemmBlock256<FusedMultiplyAdd>(wj, o1, o2, o3, o4, o5, depth, xs, tr, block);
                        else GemmBlock256<MultiplyThenAdd>(wj, o1, o2, o3, o4, o5, depth, xs, tr, block);
                        StoreBlock(block, tr, cols, y + (long)t0 * n + j, n, accumulate: k0 > 0);
                    }
                }
                if (epilogue != null)
                    for (int t = t0; t < t0 + tr; t++) epilogue(yArray.AsSpan(t * n + n0, n1 - n0), t, n0);
            }
        }
    }

    /// <summary>
    /// block[c][t] = Σ_kk w[c][kk] · xt[kk][t] for 6 w rows (at w + 0, o1 .. o5) and the first 16 · TVectors
    /// rows of the packed tile.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void GemmKernel<TVectors>(float* w, nint o1, nint o2, nint o3, nint o4, nint o5, int k, float* xt, float* block)
        where TVectors : struct, IConstant
    {
        int nv = TVectors.Value;
        Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default;
        Vector512<float> a10 = default, a11 = default, a12 = default, a13 = default;
        Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default;
        Vector512<float> a30 = default, a31 = default, a32 = default, a33 = default;
        Vector512<float> a40 = default, a41 = default, a42 = default, a43 = default;
        Vector512<float> a50 = default, a51 = default, a52 = default, a53 = default;
        for (float* wEnd = w + k; w < wEnd; w++, xt += GemmRows)
        {
            var x0 = Vector512.Load(xt);
            var x1 = nv > 1 ? Vector512.Load(xt + 16) : default;
            var x2 = nv > 2 ? Vector512.Load(xt + 32) : default;
            var x3 = nv > 3 ? Vector512.Load(xt + 48) : default;

            var b = Vector512.Create(w[0]);
            a00 = Avx512F.FusedMultiplyAdd(b, x0, a00);
            if (nv > 1) a01 = Avx512F.FusedMultiplyAdd(b, x1, a01);
            if (nv > 2) a02 = Avx512F.FusedMultiplyAdd(b, x2, a02);
            if (nv > 3) a03 = Avx512F.FusedMultiplyAdd(b, x3, a03);
            b = Vector512.Create(w[o1]);
            a10 = Avx512F.FusedMultiplyAdd(b, x0, a10);
            if (nv > 1) a11 = Avx512F.FusedMultiplyAdd(b, x1, a11);
            if (nv > 2) a12 = Avx512F.FusedMultiplyAdd(b, x2, a12);
            if (nv > 3) a13 = Avx512F.FusedMultiplyAdd(b, x3, a13);
            b = Vector512.Create(w[o2]);
            a20 = Avx512F.FusedMultiplyAdd(b, x0, a20);
            if (nv > 1) a21 = Avx512F.FusedMultiplyAdd(b, x1, a21);
            if (nv > 2) a22 = Avx512F.FusedMultiplyAdd(b, x2, a22);
            if (nv > 3) a23 = Avx512F.FusedMultiplyAdd(b, x3, a23);
            b = Vector512.Create(w[o3]);
            a30 = Avx512F.FusedMultiplyAdd(b, x0, a30);
            if (nv > 1) a31 = Avx512F.FusedMultiplyAdd(b, x1, a31);
            if (nv > 2) a32 = Avx512F.FusedMultiplyAdd(b, x2, a32);
            if (nv > 3) a33 = Avx512F.FusedMultiplyAdd(b, x3, a33);
            b = Vector512.Create(w[o4]);
            a40 = Avx512F.FusedMultiplyAdd(b, x0, a40);
            if (nv > 1) a41 = Avx512F.FusedMultiplyAdd(b, x1, a41);
            if (nv > 2) a42 = Avx512F.FusedMultiplyAdd(b, x2, a42);
            if (nv > 3) a43 = Avx512F.FusedMultiplyAdd(b, x3, a43);
            b = Vector512.Create(w[o5]);
            a50 = Avx512F.FusedMultiplyAdd(b, x0, a50);
            if (nv > 1) a51 = Avx512F.FusedMultiplyAdd(b, x1, a51);
            if (nv > 2) a52 = Avx512F.FusedMultiplyAdd(b, x2, a52);
            if (nv > 3) a53 = Avx512F.FusedMultiplyAdd(b, x3, a53);
        }
        StoreRow(block, a00, a01, a02, a03, nv);
        StoreRow(block + GemmRows, a10, a11, a12, a13, nv);
        StoreRow(block + 2 * GemmRows, a20, a21, a22, a23, nv);
        StoreRow(block + 3 * GemmRows, a30, a31, a32, a33, nv);
        StoreRow(block + 4 * GemmRows, a40, a41, a42, a43, nv);
        StoreRow(block + 5 * GemmRows, a50, a51, a52, a53, nv);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void StoreRow(float* dst, Vector512<float> a0, Vector512<float> a1, Vector512<float> a2, Vector512<float> a3, int nv)
    {
        a0.Store(dst);
        if (nv > 1) a1.Store(dst + 16);
        if (nv > 2) a2.Store(dst + 32);
        if (nv > 3) a3.Store(dst + 48);
    }
}
