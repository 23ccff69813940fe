using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Tessera.Quantization;

namespace Tessera.Cpu;

/// <summary>A (N, K) = [out, in] weight matrix, in F32, BF16 or ggml blocks (Q8_0, Q4_K, ...). The matrix kernels take each.</summary>
public sealed class WeightMatrix
{
    private WeightMatrix(int rows, int cols, float[]? f32, ushort[]? bf16, QuantizedRows? quantized = null)
    {
        Rows = rows;
        Cols = cols;
        F32 = f32;
        BF16 = bf16;
        Quantized = quantized;
    }

    /// <summary>N, the output features.</summary>
    public int Rows { get; }

    /// <summary>K, the input features.</summary>
    public int Cols { get; }

    /// <summary>The weights as F32 (null when held as BF16).</summary>
    public float[]? F32 { get; }

    /// <summary>The weights as BF16 bits (null unless held as BF16).</summary>
    public ushort[]? BF16 { get; }

    /// <summary>The weights as ggml blocks, each row quantized on its own (null unless held quantized).</summary>
    public QuantizedRows? Quantized { get; }

    /// <summary>How the weights are held: F32, BF16, Q8_0 or Q4_0, or <see cref="WeightPrecision.Stored"/> for the other block types.</summary>
    public WeightPrecision Precision => Quantized?.Type switch
    {
        null => F32 is not null ? WeightPrecision.F32 : WeightPrecision.BF16,
        GgmlType.Q8_0 => WeightPrecision.Q8_0,
        GgmlType.Q4_0 => WeightPrecision.Q4_0,
        _ => WeightPrecision.Stored,
    };

    /// <summary>Bytes held.</summary>
    public long Bytes => F32 is not null ? F32.LongLength * sizeof(float) : BF16 is not null ? BF16.LongLength * sizeof(ushort) : Quantized!.Data.LongLength;

    /// <summary>The same storage object for accounting (a tied head shares its embedding's array).</summary>
    public object Storage => (object?)F32 ?? (object?)BF16 ?? Quantized!.Data;

    /// <summary>
    /// Wraps (F32, and <see cref="WeightPrecision.Stored"/> for weights loaded as F32: no copy), rounds to BF16 (round
    /// to nearest even) or quantizes (Q8_0, Q4_0: ggml's reference rounding, row by row) a loaded [out, in] matrix.
    /// </summary>
    public static WeightMatrix Create(float[] data, int rows, int cols, WeightPrecision precision)
    {
        if ((long)rows * cols != data.LongLength)
            throw new ArgumentException($"A ({rows}, {cols}) weight matrix needs {(long)rows * cols} values, not {data.LongLength}.", nameof(data));
        if (precision is WeightPrecision.F32 or WeightPrecision.Stored) return new WeightMatrix(rows, cols, data, null);
        if (precision is WeightPrecision.Q8_0 or WeightPrecision.Q4_0)
        {
            var type = precision == WeightPrecision.Q8_0 ? GgmlType.Q8_0 : GgmlType.Q4_0;
            // A width that is not whole blocks cannot be quantized; such a matrix (a tiny model's) stays F32.
            if (cols % GgmlTypes.BlockElements(type) != 0) return new WeightMatrix(rows, cols, data, null);
            long rowBytes = GgmlTypes.RowBytes(type, cols);
            var blocks = new byte[rows * rowBytes];
            for (int r = 0; r < rows; r++)
                Quantize.Row(type, data.AsSpan(r * cols, cols), blocks.AsSpan((int)(r * rowBytes), (int)rowBytes));
            return new WeightMatrix(rows, cols, null, null, new QuantizedRows(type, rows, cols, blocks));
        }
        var bits = new ushort[data.Length];
        for (int i = 0; i < data.Length; i++) bits[i] = ToBf16(data[i]);
        return new WeightMatrix(rows, cols, null, bits);
    }

    /// <summary>
    /// F32 weights as a matrix without a copy, for the kernels' own use: the array may be longer than the shape (the
    /// kernels' float[] overloads accept that), unlike <see cref="Create"/>.
    /// </summary>
    internal static WeightMatrix Wrap(float[] data, int rows, int cols)
    {
        if ((long)rows * cols > data.LongLength)
            throw new ArgumentException($"A ({rows}, {cols}) weight matrix needs {(long)rows * cols} values, not {data.LongLength}.", nameof(data));
        return new WeightMatrix(rows, cols, data, null);
    }

    /// <summary>Block-quantized weights, held as stored.</summary>
    public static WeightMatrix Create(QuantizedRows quantized) => new(quantized.Rows, quantized.Columns, null, null, quantized);

    /// <summary>The weights as F32 (a fresh copy when held as BF16 or quantized): for back ends that upload F32.</summary>
    public float[] ToF32()
    {
        if (F32 is not null) return F32;
        if (Quantized is not null) return Quantized.ToF32();
        var data = new float[BF16!.Length];
        Widen(BF16, data);
        return data;
    }

    /// <summary>F32 → BF16 with round-to-nearest-even; NaN stays NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort ToBf16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if ((bits & 0x7FFF_FFFF) > 0x7F80_0000) return (ushort)((bits >> 16) | 0x40); // quiet NaN
        return (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
    }

    /// <summary><see cref="ToBf16(float)"/> per lane of F32 bits, the BF16 bits in each lane's low half.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<uint> ToBf16(Vector512<uint> bits)
    {
        var rounded = Vector512.ShiftRightLogical(bits + Vector512.Create(0x7FFFu) + (Vector512.ShiftRightLogical(bits, 16) & Vector512<uint>.One), 16);
        var nan = Vector512.GreaterThan(bits & Vector512.Create(0x7FFF_FFFFu), Vector512.Create(0x7F80_0000u));
        return Vector512.ConditionalSelect(nan, Vector512.ShiftRightLogical(bits, 16) | Vector512.Create(0x40u), rounded);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float FromBf16(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    /// <summary>destination[i] = source[i] widened to F32, 16 or 32 at a time (a shift: bf16 is the top half of an f32).</summary>
    public static void Widen(ReadOnlySpan<ushort> source, Span<float> destination) => Widen(source, destination, CpuKernels.DetectedIsa);

    /// <summary>The lower 16 of 32 BF16 values as F32: a BF16 is the top half of an F32, so widening is a shift.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> LowerAsF32(Vector512<ushort> bits) => Vector512.ShiftLeft(Vector512.WidenLower(bits), 16).AsSingle();

    /// <summary>The upper 16 of 32 BF16 values as F32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> UpperAsF32(Vector512<ushort> bits) => Vector512.ShiftLeft(Vector512.WidenUpper(bits), 16).AsSingle();

    /// <summary>The widening with <paramref name="isa"/>'s vectors (the result is the same at every level).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void Widen(ReadOnlySpan<ushort> source, Span<float> destination, CpuIsa isa)
    {
        if (destination.Length < source.Length) throw new ArgumentException("The destination is shorter than the source.", nameof(destination));
        int i = 0;
        fixed (ushort* s = source)
        fixed (float* d = destination)
        {
            if (isa >= CpuIsa.Avx512)
            {
                for (; i + 32 <= source.Length; i += 32)
                {
                    var bits = Vector512.Load(s + i);
                    LowerAsF32(bits).Store(d + i);
                    UpperAsF32(bits).Store(d + i + 16);
                }
            }
            else
            {
                for (; i + 16 <= source.Length; i += 16)
                {
                    var bits = Vector256.Load(s + i);
                    Vector256.ShiftLeft(Vector256.WidenLower(bits), 16).AsSingle().Store(d + i);
                    Vector256.ShiftLeft(Vector256.WidenUpper(bits), 16).AsSingle().Store(d + i + 8);
                }
            }
            for (; i < source.Length; i++) d[i] = FromBf16(s[i]);
        }
    }

    /// <summary>Bytes of weights held by an engine, each array counted once (tied weights share one).</summary>
    public static long BytesOf(IEnumerable<object?> weights)
    {
        var seen = new HashSet<object>(ReferenceEqualityComparer.Instance);
        long bytes = 0;
        foreach (var weight in weights)
        {
            switch (weight)
            {
                case WeightMatrix m when seen.Add(m.Storage): bytes += m.Bytes; break;
                case float[] a when seen.Add(a): bytes += a.LongLength * sizeof(float); break;
            }
        }
        return bytes;
    }
}
