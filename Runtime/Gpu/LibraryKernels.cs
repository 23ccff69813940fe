using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace Tessera.Gpu;

/// <summary>
/// The kernels the runtime owns, the same for every model: matrix products where cuBLAS is not used (bf16 decode on
/// any device; every product on the CPU accelerator), bf16 rounding of activations, and the copies collectives and the head need.
/// Loaded once per accelerator (<see cref="For"/>); the model's own kernels are generated.
/// </summary>
public sealed class LibraryKernels
{
    private static readonly ConditionalWeakTable<Accelerator, LibraryKernels> Loaded = new();

    private LibraryKernels(Accelerator accelerator)
    {
        GemmF32 = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>(GemmF32Kernel);
        GemvBf16 = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<ushort>, int, int, int>(GemvBf16Kernel);
        GemmBf16 = accelerator.LoadKernel<ArrayView<float>, ArrayView<ushort>, ArrayView<ushort>, int, int, int>(GemmBf16Kernel);
        RoundToBf16 = accelerator.LoadKernel<ArrayView<ushort>, ArrayView<float>, long>(RoundToBf16Kernel);
        AddInPlace = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, long>(AddInPlaceKernel);
        ScatterColumns = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, int, int, int>(ScatterColumnsKernel);
        GatherColumns = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, int, int, int>(GatherColumnsKernel);
        GatherRows = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<int>, int>(GatherRowsKernel);
        Route = accelerator.LoadKernel<ArrayView<float>, int, int, int, int, ArrayView<int>, ArrayView<float>>(RouteKernel);
        AddExpert = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, int, int, int, int>(AddExpertKernel);
        CombineAttention = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, int, int, int, int, int, long>(CombineAttentionKernel);
    }

    /// <summary>The kernels loaded on <paramref name="accelerator"/> (compiled on first use there).</summary>
    public static LibraryKernels For(Accelerator accelerator)
    {
        lock (Loaded) return Loaded.GetValue(accelerator, a => new LibraryKernels(a));
    }

    public Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int> GemmF32 { get; }

    public Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, int, int, int> GemvBf16 { get; }

    public Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<ushort>, ArrayView<ushort>, int, int, int> GemmBf16 { get; }

    public Action<AcceleratorStream, KernelConfig, ArrayView<ushort>, ArrayView<float>, long> RoundToBf16 { get; }

    public Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, long> AddInPlace { get; }

    public Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, int, int, int> ScatterColumns { get; }

    public Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, int, int, int> GatherColumns { get; }

    public Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<int>, int> GatherRows { get; }

    public Action<AcceleratorStream, KernelConfig, ArrayView<float>, int, int, int, int, ArrayView<int>, ArrayView<float>> Route { get; }

    public Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, int, int, int, int> AddExpert { get; }

    public Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, int, int, int, int, int, long> CombineAttention { get; }

    /// <summary>
    /// y (rows, n) = x (rows, k) · wᵀ with w (n, k): one thread per output (rows x n threads, row-major). The
    /// products of the CPU accelerator (a GPU's go to cuBLAS): no barrier, which that accelerator emulates slowly.
    /// </summary>
    private static void GemmF32Kernel(ArrayView<float> y, ArrayView<float> x, ArrayView<float> w, int rows, int n, int k)
    {
        long index = Grid.GlobalIndex.X;
        if (index >= (long)rows * n) return;
        int row = (int)(index / n), column = (int)(index % n);
        long xRow = (long)row * k, wRow = (long)column * k;
        float sum = 0.0f;
        for (int i = 0; i < k; i++) sum += x[xRow + i] * w[wRow + i];
        y[index] = sum;
    }

    /// <summary>
    /// y (rows, n) = x (rows, k) · wᵀ with bf16 w (n, k), for a few rows (decode): one warp per output column, its
    /// lanes reading consecutive weights (coalesced), each weight read once from memory for all rows.
    /// </summary>
    private static void GemvBf16Kernel(ArrayView<float> y, ArrayView<float> x, ArrayView<ushort> w, int rows, int n, int k)
    {
        long thread = (long)Grid.IdxX * Group.DimX + Group.IdxX;
        long column = thread / Warp.WarpSize;
        bool active = column < n; // whole warps take the same branch: the shuffles below need every lane
        long wRow = active ? column * k : 0;
        for (int row = 0; row < rows; row++)
        {
            float sum = 0.0f;
            if (active)
                for (int i = Warp.LaneIdx; i < k; i += Warp.WarpSize) sum += x[(long)row * k + i] * GpuMath.Bf16(w[wRow + i]);
            sum = GpuGroup.WarpSum(sum);
            if (active && Warp.LaneIdx == 0) y[(long)row * n + column] = sum;
        }
    }

    /// <summary>
    /// y (rows, n) = x (rows, k) · wᵀ with bf16 x and w, fp32 accumulation: what cublasGemmEx computes on bf16 tensor
    /// cores, a thread per output (the CPU accelerator's prefill products with bf16 weights, so its tests see the same
    /// rounding as a GPU's).
    /// </summary>
    private static void GemmBf16Kernel(ArrayView<float> y, ArrayView<ushort> x, ArrayView<ushort> w, int rows, int n, int k)
    {
        long index = Grid.GlobalIndex.X;
        if (index >= (long)rows * n) return;
        long xRow = index / n * k, wRow = index % n * k;
        float sum = 0.0f;
        for (int i = 0; i < k; i++) sum += GpuMath.Bf16(x[xRow + i]) * GpuMath.Bf16(w[wRow + i]);
        y[index] = sum;
    }

    /// <summary>fp32 → bf16 of <paramref name="count"/> values (a prefill's activations, before a bf16 product).</summary>
    private static void RoundToBf16Kernel(ArrayView<ushort> output, ArrayView<float> values, long count)
    {
        for (long i = Grid.GlobalIndex.X; i < count; i += (long)Grid.DimX * Group.DimX) output[i] = GpuMath.ToBf16(values[i]);
    }

    /// <summary>sum += part, over <paramref name="count"/> values (one rank's partial in an all-reduce).</summary>
    private static void AddInPlaceKernel(ArrayView<float> sum, ArrayView<float> part, long count)
    {
        for (long i = Grid.GlobalIndex.X; i < count; i += (long)Grid.DimX * Group.DimX) sum[i] += part[i];
    }

    /// <summary>One rank's (rows, width) logits into columns [offset, offset + width) of (rows, fullWidth): a group per row.</summary>
    private static void ScatterColumnsKernel(ArrayView<float> full, ArrayView<float> part, int width, int fullWidth, int offset)
    {
        long row = Grid.IdxX;
        for (int i = Group.IdxX; i < width; i += Group.DimX) full[row * fullWidth + offset + i] = part[row * width + i];
    }

    /// <summary>
    /// A router's top-k, a thread per row, deciding as ExpertRouter.Route does: p = softmax of the row's logits in
    /// double, the k largest (ties to the lower index) taken one after the other without scratch memory (the next is
    /// the largest below the previous in (p, then lower index) order), stored in ascending id order with weights p,
    /// or p over the chosen ones' sum when <paramref name="renormalize"/> is 1.
    /// </summary>
    private static void RouteKernel(ArrayView<float> logits, int rows, int experts, int k, int renormalize, ArrayView<int> chosen, ArrayView<float> weights)
    {
        int row = (int)Grid.GlobalIndex.X;
        if (row >= rows) return;
        long z = (long)row * experts, first = (long)row * k;
        double max = double.NegativeInfinity, sum = 0.0;
        for (int e = 0; e < experts; e++) max = Math.Max(max, logits[z + e]);
        for (int e = 0; e < experts; e++) sum += ILGPU.Algorithms.XMath.Exp(logits[z + e] - max);
        double previous = double.PositiveInfinity, chosenSum = 0.0;
        int previousExpert = -1;
        for (int j = 0; j < k; j++)
        {
            int best = -1;
            double bestP = 0.0;
            for (int e = 0; e < experts; e++)
            {
                double p = ILGPU.Algorithms.XMath.Exp(logits[z + e] - max) / sum;
                bool below = p < previous || (p == previous && e > previousExpert);
                if (below && (best < 0 || p > bestP)) (best, bestP) = (e, p);
            }
            // Insertion into the row's ascending list.
            int at = j;
            while (at > 0 && chosen[first + at - 1] > best)
            {
                chosen[first + at] = chosen[first + at - 1];
                at--;
            }
            chosen[first + at] = best;
            chosenSum += bestP;
            (previous, previousExpert) = (bestP, best);
        }
        for (int j = 0; j < k; j++)
        {
            double p = ILGPU.Algorithms.XMath.Exp(logits[z + chosen[first + j]] - max) / sum;
            weights[first + j] = (float)(renormalize == 1 ? p / chosenSum : p);
        }
    }

    /// <summary>
    /// y (rows, width) += weight x output for the rows that chose <paramref name="expert"/> (grid-stride): the
    /// mixture's combine, one expert at a time in ascending order, as ExpertRouter.Combine adds them.
    /// </summary>
    private static void AddExpertKernel(ArrayView<float> y, ArrayView<float> output, ArrayView<int> chosen, ArrayView<float> weights, int rows, int k, int width, int expert)
    {
        long count = (long)rows * width;
        for (long i = Grid.GlobalIndex.X; i < count; i += (long)Grid.DimX * Group.DimX)
        {
            long row = i / width;
            for (int j = 0; j < k; j++)
                if (chosen[row * k + j] == expert) y[i] = output[i] * weights[row * k + j] + y[i];
        }
    }

    /// <summary>
    /// Merges the splits of a flash-decoding attention launch, a thread per (row, kv head, query head of the group,
    /// dimension): with each split's unnormalised sum a, maximum m and weight sum l, the output is
    /// Σ a_s exp(m_s - M) / Σ l_s exp(m_s - M), M the largest m_s (a split past the context has m = -inf, l = 0).
    /// </summary>
    private static void CombineAttentionKernel(ArrayView<float> output, ArrayView<float> partials, int kvHeads, int splits, int group, int headDim, int width, long count)
    {
        long part = (long)group * (headDim + 2);
        for (long i = Grid.GlobalIndex.X; i < count; i += (long)Grid.DimX * Group.DimX)
        {
            int d = (int)(i % headDim), g = (int)(i / headDim % group);
            long pair = i / ((long)headDim * group); // row * kvHeads + kvHead
            long first = pair * splits * part;
            float max = float.NegativeInfinity;
            for (int s = 0; s < splits; s++) max = Math.Max(max, partials[first + s * part + (long)group * headDim + g]);
            float sum = 0.0f, weights = 0.0f;
            for (int s = 0; s < splits; s++)
            {
                long at = first + s * part;
                float scale = ILGPU.Algorithms.XMath.Exp(partials[at + (long)group * headDim + g] - max);
                sum += partials[at + (long)g * headDim + d] * scale;
                weights += partials[at + (long)group * headDim + group + g] * scale;
            }
            long row = pair / kvHeads, kvHead = pair % kvHeads;
            output[row * width + (kvHead * group + g) * headDim + d] = sum / weights;
        }
    }

    /// <summary>Columns [offset, offset + width) of (rows, fullWidth) into (rows, width): a stacked product's share, a group per row.</summary>
    private static void GatherColumnsKernel(ArrayView<float> part, ArrayView<float> full, int width, int fullWidth, int offset)
    {
        long row = Grid.IdxX;
        for (int i = Group.IdxX; i < width; i += Group.DimX) part[row * width + i] = full[row * fullWidth + offset + i];
    }

    /// <summary>rows[r] = hidden[ids[r]] for the rows whose logits are wanted: a group per gathered row.</summary>
    private static void GatherRowsKernel(ArrayView<float> rows, ArrayView<float> hidden, ArrayView<int> ids, int width)
    {
        long row = Grid.IdxX, source = ids[Grid.IdxX];
        for (int i = Group.IdxX; i < width; i += Group.DimX) rows[row * width + i] = hidden[source * width + i];
    }
}
