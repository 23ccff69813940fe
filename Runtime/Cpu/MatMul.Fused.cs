using Tessera.Quantization;

namespace Tessera.Cpu;

/// <summary>One product of a fused call: y (T, N) = x · wᵀ, then the epilogue on each finished segment.</summary>
/// <remarks>
/// When every target of the call has the same N, each column chunk is computed for the targets in order by one thread,
/// so a target's epilogue may read an earlier target's output over its own segment (SwiGLU: up · silu(gate)).
/// Otherwise an epilogue must not read another target's output.
/// </remarks>
public readonly record struct MatMulTarget(WeightMatrix W, int N, float[] Y, Epilogue? Epilogue = null);

// Products of one input (Q, K and V of attention; gate and up of a SwiGLU MLP) in one kernel call: one split of all
// their column chunks over the team, one hand-off of the threads instead of one per product (a 768 x 768 projection
// in decode is ~5 µs of memory traffic on two cores, close to what a hand-off and the wait for the slower half
// cost). Prompts also pack x once for all of them (MatMul.Gemm.cs).
public static partial class CpuKernels
{
    /// <summary>
    /// y_i (T, N_i) = x (T, K) · w_iᵀ for every target, each target's epilogue as in
    /// <see cref="MatMul(CpuExecution, float[], int, int, WeightMatrix, int, float[], Epilogue?)"/> (see
    /// <see cref="MatMulTarget"/> for what an epilogue may read). The targets must not share an output.
    /// </summary>
    public static void MatMul(CpuExecution cpu, float[] x, int rows, int k, ReadOnlySpan<MatMulTarget> targets) =>
        MatMul(cpu, x, rows, k, targets, DetectedIsa);

    internal static void MatMul(CpuExecution cpu, float[] x, int rows, int k, ReadOnlySpan<MatMulTarget> targets, CpuIsa isa)
    {
        ArgumentNullException.ThrowIfNull(cpu);
        CheckLength(x, (long)rows * k, nameof(x));
        foreach (var target in targets)
        {
            ArgumentNullException.ThrowIfNull(target.W, nameof(targets));
            if (target.W.Rows != target.N || target.W.Cols != k)
                throw new ArgumentException($"MatMul with a ({target.W.Rows}, {target.W.Cols}) weight matrix cannot make ({target.N}, {k}).", nameof(targets));
            CheckLength(target.Y, (long)rows * target.N, nameof(targets));
        }
        // A product without columns has nothing to compute (the GEMM's split assumes at least one column).
        var list = targets.ToArray().Where(t => t.N > 0).ToArray();
        if (rows == 0 || list.Length == 0) return;

        // Block-quantized weights multiply x as llama.cpp's CPU back end does: rounded to its 8-bit activation blocks
        // first (Quantization/ActivationBlocks.cs), on the prompt and the decode paths alike. Products whose weights
        // pair with different blocks run one after another, in order (an epilogue may read an earlier product).
        // (A loop, not LINQ: this runs on every product of every decode step.)
        GgmlType? blocks = BlocksOf(list[0]);
        bool quantized = blocks is not null, alike = true;
        for (int i = 1; i < list.Length; i++)
        {
            var own = BlocksOf(list[i]);
            quantized |= own is not null;
            alike &= own == blocks;
        }
        if (!quantized) Products(cpu, x, rows, k, list, isa);
        else if (alike) ProductsOfRoundedX(cpu, x, rows, k, list, blocks!.Value, isa);
        else
            foreach (var target in list)
            {
                if (BlocksOf(target) is { } own) ProductsOfRoundedX(cpu, x, rows, k, [target], own, isa);
                else Products(cpu, x, rows, k, [target], isa);
            }
    }

    /// <summary>The activation blocks x is rounded to before a product with the target's weights (null: none, F32 arithmetic).</summary>
    private static GgmlType? BlocksOf(MatMulTarget target) => target.W.Quantized is { } q ? ActivationBlocks.For(q.Type) : null;

    /// <summary>
    /// The products with x rounded to <paramref name="blocks"/> (Q8_0, Q8_K or F16), row by row. Decode and small
    /// batches over weights with an integer kernel round x inside it and take integer dot products, as llama.cpp does
    /// (QuantizedDot's quantizeX: the same rounding, the same sums to F32 rounding, 2-3x the weights per second);
    /// otherwise x is rounded here and the F32 kernels multiply the rounded values.
    /// </summary>
    private static unsafe void ProductsOfRoundedX(CpuExecution cpu, float[] x, int rows, int k, MatMulTarget[] list, GgmlType blocks, CpuIsa isa)
    {
        if (rows < GemmMinRows && list.All(t => QuantizedDot.CanQuantizeX(t.W.Quantized!.Type)))
        {
            // Rounded once here for every chunk of every product (the targets share their blocks).
            QuantizedDot.RoundedX blocksOfX;
            fixed (float* px = x) blocksOfX = QuantizedDot.RoundX(list[0].W.Quantized!.Type, px, rows, k);
            DotProducts(cpu, x, rows, k, list, isa, blocksOfX);
            return;
        }
        var rounded = System.Buffers.ArrayPool<float>.Shared.Rent(rows * k);
        try
        {
            for (int r = 0; r < rows; r++) ActivationBlocks.RoundTrip(blocks, x.AsSpan(r * k, k), rounded.AsSpan(r * k, k));
            Products(cpu, rounded, rows, k, list, isa);
        }
        finally
        {
            System.Buffers.ArrayPool<float>.Shared.Return(rounded);
        }
    }

    /// <summary>The products of one x: the GEMM for prompts, the dot kernels for decode and small batches.</summary>
    private static void Products(CpuExecution cpu, float[] x, int rows, int k, MatMulTarget[] list, CpuIsa isa)
    {
        if (rows >= GemmMinRows)
        {
            Gemm(cpu, x, rows, k, list, isa);
            return;
        }
        // AVX-512 with BF16 weights and K below one vector: each product on its weights widened whole, in F32.
        if (isa >= CpuIsa.Avx512 && k < 32 && HasBf16(list))
        {
            foreach (var (w, n, y, epilogue) in list) MatMul(cpu, x, rows, k, w.ToF32(), n, y, epilogue, isa);
            return;
        }
        DotProducts(cpu, x, rows, k, list, isa);
    }

    /// <summary>
    /// Decode and small batches: the dot kernels over every target's column chunks, split over the team as one range
    /// (equally wide targets: chunk by chunk, each for every target in order on one thread).
    /// </summary>
    /// <param name="rounded">x rounded for the targets' integer kernels, which then take it instead of x</param>
    private static void DotProducts(CpuExecution cpu, float[] x, int rows, int k, MatMulTarget[] list, CpuIsa isa, QuantizedDot.RoundedX? rounded = null)
    {
        bool aligned = true;
        foreach (var target in list) aligned &= target.N == list[0].N;
        if (aligned)
        {
            int n = list[0].N, alignedChunks = (n + EpilogueChunk - 1) / EpilogueChunk;
            int alignedWorkers = CpuParallel.Workers(cpu, alignedChunks, 2L * rows * k * EpilogueChunk * list.Length);
            CpuParallel.ForRanges(alignedChunks, alignedWorkers, (start, end) =>
            {
                for (int c = start; c < end; c++)
                    foreach (var target in list) DotChunkWithEpilogue(x, rows, k, target, c * EpilogueChunk, isa, rounded);
            });
            return;
        }

        // Target after target, the chunks of all split over the team as one range.
        var firstChunk = new int[list.Length + 1];
        for (int i = 0; i < list.Length; i++) firstChunk[i + 1] = firstChunk[i] + (list[i].N + EpilogueChunk - 1) / EpilogueChunk;
        int chunks = firstChunk[^1];
        int workers = CpuParallel.Workers(cpu, chunks, 2L * rows * k * EpilogueChunk);
        CpuParallel.ForRanges(chunks, workers, (start, end) =>
        {
            int i = 0;
            for (int c = start; c < end; c++)
            {
                while (c >= firstChunk[i + 1]) i++;
                DotChunkWithEpilogue(x, rows, k, list[i], (c - firstChunk[i]) * EpilogueChunk, isa, rounded);
            }
        });
    }

    /// <summary>Columns [n0, n0 + EpilogueChunk) of the target's every row, then its epilogue on them.</summary>
    private static void DotChunkWithEpilogue(float[] x, int rows, int k, MatMulTarget target, int n0, CpuIsa isa, QuantizedDot.RoundedX? rounded)
    {
        var (w, n, y, epilogue) = target;
        int n1 = Math.Min(n, n0 + EpilogueChunk);
        DotChunkOf(x, rows, k, w, n, y, n0, n1, isa, rounded);
        if (epilogue != null)
            for (int r = 0; r < rows; r++) epilogue(y.AsSpan(r * n + n0, n1 - n0), r, n0);
    }

    private static bool HasBf16(ReadOnlySpan<MatMulTarget> targets)
    {
        foreach (var target in targets)
            if (target.W.BF16 is not null) return true;
        return false;
    }

    /// <summary>Columns [n0, n1) of every row with the dot kernel for the weights' format and <paramref name="isa"/>.</summary>
    /// <param name="rounded">block-quantized weights: x rounded to llama.cpp's 8-bit blocks, for the integer dot products</param>
    private static unsafe void DotChunkOf(float[] x, int rows, int k, WeightMatrix w, int n, float[] y, int n0, int n1, CpuIsa isa, QuantizedDot.RoundedX? rounded)
    {
        fixed (float* px = x, py = y)
        {
            if (w.F32 is { } f32)
            {
                fixed (float* pw = f32)
                {
                    if (isa >= CpuIsa.Avx512) DotChunk(px, rows, k, pw, n, py, n0, n1);
                    else DotChunk256<F32Weights>(px, rows, k, pw, n, py, n0, n1, isa);
                }
                return;
            }
            if (w.Quantized is { } q)
            {
                // Block-quantized rows: dequantized in registers as each block is read (Quantization/QuantizedDot.cs).
                fixed (byte* pq = q.Data)
                {
                    if (rounded is { } xq) QuantizedDot.DotRows(q.Type, pq, q.RowBytes, xq, py, n, n0, n1);
                    else QuantizedDot.DotRows(q.Type, pq, q.RowBytes, k, px, rows, py, n, n0, n1);
                }
                return;
            }
            fixed (ushort* pw = w.BF16)
            {
                if (isa >= CpuIsa.Avx512) Bf16Chunk(x, rows, k, w.BF16!, n, y, n0, n1);
                else DotChunk256<Bf16Weights>(px, rows, k, pw, n, py, n0, n1, isa);
            }
        }
    }
}
