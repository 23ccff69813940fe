using System.Runtime.CompilerServices;
using System.Collections.Concurrent;
using System.Runtime.Intrinsics;

namespace Tessera.Cpu;

// Rotary position embedding (rotate_half layout). The cos/sin of every (position, frequency) pair are computed once
// per (rotary dimensions, theta, scaling), in double as the reference does, and kept in a table that grows with the
// longest position seen, so a decode step costs two loads per pair instead of a Pow, a Cos and a Sin.
public static partial class CpuKernels
{
    private static readonly ConcurrentDictionary<(int RotaryDim, float Theta, RopeScaling Scaling), RopeTable> RopeTables = new();

    /// <summary>
    /// The dimensions of a head that rotate: (int)(headDim · fraction), as Hugging Face's int(head_dim ·
    /// partial_rotary_factor) (the fraction read as a float: a hair of slack keeps 0.7 · 10 at 7). It must be even
    /// (the rotated dimensions pair up) and at most the head.
    /// </summary>
    public static int RotaryDims(int headDim, float rotaryFraction)
    {
        double dims = Math.Floor(headDim * (double)rotaryFraction + 1e-5);
        if (!(rotaryFraction > 0) || dims > headDim || dims % 2 != 0)
            throw new ArgumentOutOfRangeException(nameof(rotaryFraction),
                $"RoPE rotates (int)(head_dim {headDim} x partial_rotary_factor {rotaryFraction.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}) = {dims} dimensions of each head, which must be a positive even number up to the head dimension.");
        return (int)dims;
    }

    /// <summary>
    /// In-place rotate_half RoPE on x (T, heads * headDim) at each row's position: the first
    /// <see cref="RotaryDims"/> dimensions of each head rotate as pairs (j, j + r/2), the rest pass unchanged.
    /// </summary>
    public static void Rope(CpuExecution cpu, float[] x, int rows, int heads, int headDim, int[] positions, float theta, RopeScaling? scaling = null, float rotaryFraction = 1)
    {
        if (rows < 0 || heads < 0 || headDim < 0) throw new ArgumentOutOfRangeException(nameof(rows), "Rope shape has a negative size.");
        ArgumentNullException.ThrowIfNull(positions);
        if (positions.Length < rows) throw new ArgumentException($"positions holds {positions.Length} entries for {rows} rows.", nameof(positions));
        CheckLength(x, (long)rows * heads * headDim, nameof(x));
        int rotaryDim = headDim == 0 ? 0 : RotaryDims(headDim, rotaryFraction);
        int half = rotaryDim / 2;
        if (rows == 0 || half == 0) return;

        int maxPosition = 0;
        for (int r = 0; r < rows; r++)
        {
            if (positions[r] < 0) throw new ArgumentOutOfRangeException(nameof(positions), $"Row {r} has negative position {positions[r]}.");
            maxPosition = Math.Max(maxPosition, positions[r]);
        }
        var table = TableOf(rotaryDim, theta, scaling).Covering(maxPosition);

        CpuParallel.ForRanges(rows, CpuParallel.Workers(cpu, rows, 6L * heads * half), (start, end) =>
        {
            for (int r = start; r < end; r++)
            {
                var cos = table.Cos.AsSpan(positions[r] * half, half);
                var sin = table.Sin.AsSpan(positions[r] * half, half);
                for (int h = 0; h < heads; h++)
                {
                    var head = x.AsSpan((r * heads + h) * headDim, headDim);
                    Rotate(head[..half], head.Slice(half, half), cos, sin);
                }
            }
        });
    }

    /// <summary>
    /// The cos and sin tables this kernel rotates with, (position, j) row-major for j below rotaryDim / 2, covering at
    /// least <paramref name="positions"/> positions: the GPU back end uploads them, so both back ends use the same angles.
    /// </summary>
    public static (float[] Cos, float[] Sin) RopeAngles(int rotaryDim, float theta, int positions, RopeScaling? scaling = null)
    {
        var table = TableOf(rotaryDim, theta, scaling).Covering(Math.Max(0, positions - 1));
        return (table.Cos, table.Sin);
    }

    private static RopeTable TableOf(int rotaryDim, float theta, RopeScaling? scaling) =>
        RopeTables.GetOrAdd((rotaryDim, theta, scaling ?? RopeScaling.None), key => new RopeTable(key.RotaryDim, key.Theta, key.Scaling));

    /// <summary>(a, b) = (a·cos - b·sin, b·cos + a·sin), with no fused multiply-add, so results equal the scalar definition bit for bit.</summary>
    // Hot loop: compiled fully optimised at once; tier-0 code of Vector512 loops is many times slower.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rotate(Span<float> a, Span<float> b, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin)
    {
        int j = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; j + 16 <= a.Length; j += 16)
            {
                var va = Vector512.Create(a.Slice(j, 16));
                var vb = Vector512.Create(b.Slice(j, 16));
                var c = Vector512.Create(cos.Slice(j, 16));
                var s = Vector512.Create(sin.Slice(j, 16));
                (va * c - vb * s).CopyTo(a.Slice(j, 16));
                (vb * c + va * s).CopyTo(b.Slice(j, 16));
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            for (; j + 8 <= a.Length; j += 8)
            {
                var va = Vector256.Create(a.Slice(j, 8));
                var vb = Vector256.Create(b.Slice(j, 8));
                var c = Vector256.Create(cos.Slice(j, 8));
                var s = Vector256.Create(sin.Slice(j, 8));
                (va * c - vb * s).CopyTo(a.Slice(j, 8));
                (vb * c + va * s).CopyTo(b.Slice(j, 8));
            }
        }
        for (; j < a.Length; j++)
        {
            float va = a[j], vb = b[j];
            a[j] = va * cos[j] - vb * sin[j];
            b[j] = vb * cos[j] + va * sin[j];
        }
    }

    /// <summary>
    /// cos/sin of position · inv_j for positions [0, Positions), row-major (position, j), inv_j = theta^(-2j / rotaryDim)
    /// scaled as the scaling says, and cos/sin multiplied by its attention factor (1 but for yarn). Grown by replacing
    /// the snapshot under a lock; readers take the current snapshot and never see a half-filled one.
    /// </summary>
    private sealed class RopeTable(int rotaryDim, float theta, RopeScaling scaling)
    {
        private readonly double[] _frequencies = scaling.InverseFrequencies(rotaryDim, theta);

        private readonly Lock _grow = new();
        private volatile RopeSnapshot _current = new(0, [], []);

        public RopeSnapshot Covering(int position)
        {
            var current = _current;
            if (position < current.Positions) return current;
            lock (_grow)
            {
                current = _current;
                if (position < current.Positions) return current;
                int half = rotaryDim / 2;
                int positions = Math.Max(position + 1, Math.Max(256, current.Positions * 2));
                var cos = new float[(long)positions * half];
                var sin = new float[(long)positions * half];
                current.Cos.CopyTo(cos, 0);
                current.Sin.CopyTo(sin, 0);
                double attention = scaling.AttentionFactor;
                for (int j = 0; j < half; j++)
                {
                    double freq = _frequencies[j];
                    for (int p = current.Positions; p < positions; p++)
                    {
                        double angle = p * freq;
                        cos[(long)p * half + j] = (float)(Math.Cos(angle) * attention);
                        sin[(long)p * half + j] = (float)(Math.Sin(angle) * attention);
                    }
                }
                _current = current = new RopeSnapshot(positions, cos, sin);
                return current;
            }
        }
    }

    private sealed record RopeSnapshot(int Positions, float[] Cos, float[] Sin);
}
