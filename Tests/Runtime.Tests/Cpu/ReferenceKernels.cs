using Tessera.Cpu;

namespace Tessera.Runtime.Tests.Cpu;

/// <summary>
/// The original plain-loop kernels, kept verbatim as the specification the optimised <see cref="CpuKernels"/> are
/// tested against: one accumulator, one element at a time, no threads.
/// </summary>
internal static class ReferenceKernels
{
    /// <summary>y (T, N) = x (T, K) · wᵀ, w (N, K); then <paramref name="epilogue"/> on each finished segment.</summary>
    public static void MatMul(float[] x, int rows, int k, float[] w, int n, float[] y, Epilogue? epilogue = null)
    {
        for (int r = 0; r < rows; r++)
        {
            for (int j = 0; j < n; j++)
            {
                float acc = 0;
                for (int i = 0; i < k; i++) acc += x[r * k + i] * w[j * k + i];
                y[r * n + j] = acc;
            }
            epilogue?.Invoke(y.AsSpan(r * n, n), r, 0);
        }
    }

    /// <summary>y (T, C) = x · rsqrt(mean(x²) + eps) · w.</summary>
    public static void RmsNorm(float[] x, float[] weight, float[] y, int rows, int dim, float eps)
    {
        for (int r = 0; r < rows; r++)
        {
            var xr = x.AsSpan(r * dim, dim);
            float ss = 0;
            foreach (float v in xr) ss += v * v;
            float scale = 1f / MathF.Sqrt(ss / dim + eps);
            for (int i = 0; i < dim; i++) y[r * dim + i] = xr[i] * scale * weight[i];
        }
    }

    /// <summary>y (T, C) = (x - mean) · rsqrt(var + eps) · w + b, biased variance.</summary>
    public static void LayerNorm(float[] x, float[] weight, float[] bias, float[] y, int rows, int dim, float eps)
    {
        for (int r = 0; r < rows; r++)
        {
            var xr = x.AsSpan(r * dim, dim);
            float mean = 0;
            foreach (float v in xr) mean += v;
            mean /= dim;
            float var = 0;
            foreach (float v in xr) var += (v - mean) * (v - mean);
            var /= dim;
            float scale = 1f / MathF.Sqrt(var + eps);
            for (int i = 0; i < dim; i++) y[r * dim + i] = (xr[i] - mean) * scale * weight[i] + bias[i];
        }
    }

    /// <summary>y (T, C) = table[ids[t]] (+= when <paramref name="accumulate"/>). Ids are checked by the caller.</summary>
    public static void Gather(float[] table, int dim, int[] ids, float[] y, bool accumulate = false)
    {
        for (int t = 0; t < ids.Length; t++)
        {
            var src = table.AsSpan(ids[t] * dim, dim);
            var dst = y.AsSpan(t * dim, dim);
            if (accumulate) for (int i = 0; i < dim; i++) dst[i] += src[i];
            else src.CopyTo(dst);
        }
    }

    /// <summary>In-place rotate_half RoPE on x (T, heads * headDim) at each row's position.</summary>
    public static void Rope(float[] x, int rows, int heads, int headDim, int[] positions, float theta, int rotaryDim = 0)
    {
        // The first rotaryDim dimensions of each head rotate (all of them by default); the rest pass unchanged.
        if (rotaryDim == 0) rotaryDim = headDim;
        int half = rotaryDim / 2;
        for (int r = 0; r < rows; r++)
        {
            for (int j = 0; j < half; j++)
            {
                double freq = Math.Pow(theta, -2.0 * j / rotaryDim);
                double angle = positions[r] * freq;
                float cos = (float)Math.Cos(angle), sin = (float)Math.Sin(angle);
                for (int h = 0; h < heads; h++)
                {
                    int o = r * heads * headDim + h * headDim;
                    float a = x[o + j], b = x[o + j + half];
                    x[o + j] = a * cos - b * sin;
                    x[o + j + half] = b * cos + a * sin;
                }
            }
        }
    }

    /// <summary>
    /// Writes each row's k and v (T, kvHeads * d) into its sequence's cache at its position, then computes causal
    /// attention of q (T, heads * d) over positions 0..pos of that sequence into output (T, heads * d).
    /// Query head h reads kv head h / (heads / kvHeads).
    /// </summary>
    /// <remarks>
    /// Scores (q · k) · <paramref name="scale"/> (0: 1/√d), then c · tanh(s / c) with a soft-cap c; a window W keeps
    /// keys p with pos - W &lt; p ≤ pos (Hugging Face's sliding window), computed in double.
    /// </remarks>
    public static void Attention(float[] q, float[] k, float[] v, float[] output, TokenBatch batch, int layer, int heads, int kvHeads, int headDim,
        float scale = 0, float softCap = 0, int window = 0)
    {
        int rows = batch.Rows, kvWidth = kvHeads * headDim, width = heads * headDim, group = heads / kvHeads;
        for (int r = 0; r < rows; r++)
        {
            var cache = batch.Caches[batch.SequenceOfRow[r]];
            int pos = batch.Positions[r];
            cache.ReserveRows(pos + 1);
            Array.Copy(k, r * kvWidth, cache.Keys(layer), pos * kvWidth, kvWidth);
            Array.Copy(v, r * kvWidth, cache.Values(layer), pos * kvWidth, kvWidth);
        }
        double factor = scale == 0 ? 1 / Math.Sqrt(headDim) : scale;
        for (int r = 0; r < rows; r++)
        {
            var cache = batch.Caches[batch.SequenceOfRow[r]];
            int pos = batch.Positions[r], first = window > 0 ? Math.Max(0, pos - window + 1) : 0;
            float[] keys = cache.Keys(layer), values = cache.Values(layer);
            var scores = new double[pos + 1];
            for (int h = 0; h < heads; h++)
            {
                int kvh = h / group;
                double max = double.NegativeInfinity;
                for (int p = first; p <= pos; p++)
                {
                    double s = 0;
                    for (int i = 0; i < headDim; i++) s += (double)q[r * width + h * headDim + i] * keys[p * kvWidth + kvh * headDim + i];
                    s *= factor;
                    if (softCap != 0) s = softCap * Math.Tanh(s / softCap);
                    scores[p] = s;
                    max = Math.Max(max, scores[p]);
                }
                double sum = 0;
                for (int p = first; p <= pos; p++) { scores[p] = Math.Exp(scores[p] - max); sum += scores[p]; }
                for (int i = 0; i < headDim; i++)
                {
                    double acc = 0;
                    for (int p = first; p <= pos; p++) acc += scores[p] * values[p * kvWidth + kvh * headDim + i];
                    output[r * width + h * headDim + i] = (float)(acc / sum);
                }
            }
        }
    }
}
