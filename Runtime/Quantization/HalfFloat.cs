using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Tessera.Quantization;

/// <summary>IEEE half (F16) and bfloat16 (BF16) bit patterns to float: every value, subnormals, infinities and NaNs exact.</summary>
internal static unsafe class HalfFloat
{
    /// <summary>2^112: moves a half's exponent (bias 15) to a float's (bias 127).</summary>
    private const float ExponentRebias = 5.192296858534828e33f;

    /// <summary>
    /// Every half's float, as ggml keeps them (ggml_table_f32_f16) where the CPU has no F16C instructions in
    /// reach (.NET exposes none): a block scale then costs one load, where the arithmetic below costs about ten
    /// instructions, a large share of a 32-value block's work in the dot kernels. 256 KiB, mostly untouched: a
    /// matrix's scales share a few exponents, so the lines in use stay in L1.
    /// </summary>
    private static readonly float* Table = BuildTable();

    /// <summary>The same value as <c>(float)BitConverter.UInt16BitsToHalf(bits)</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToSingle(ushort bits) => Table[bits];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToSingle(byte* bits) => Table[Unsafe.ReadUnaligned<ushort>(bits)];

    /// <summary>A bfloat16 is the upper half of a float.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Bf16ToSingle(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    /// <summary>
    /// A half's float from its bits: the half's exponent and mantissa bits placed in a float's, times 2^112, is the
    /// half's value exactly for normal and subnormal halves alike (a power-of-two scaling of a representable number).
    /// Only the all-ones exponent (infinity, NaN) needs its own case.
    /// </summary>
    internal static float Convert(ushort bits)
    {
        uint magnitude = (uint)(bits & 0x7FFF) << 13;
        float value = BitConverter.UInt32BitsToSingle(magnitude) * ExponentRebias;
        uint result = BitConverter.SingleToUInt32Bits(value);
        // Infinity stays infinity; a NaN keeps its payload and comes back quiet, as the runtime's conversion (and ggml's) does.
        if ((bits & 0x7C00) == 0x7C00) result = (bits & 0x03FF) == 0 ? 0x7F800000u : 0x7FC00000u | magnitude;
        return BitConverter.UInt32BitsToSingle(result | (uint)(bits & 0x8000) << 16);
    }

    /// <summary>Allocated once for the process's life, outside the GC heap, so the kernels index it without pinning.</summary>
    private static float* BuildTable()
    {
        var table = (float*)NativeMemory.AlignedAlloc(65536 * sizeof(float), 64);
        for (int bits = 0; bits < 65536; bits++) table[bits] = Convert((ushort)bits);
        return table;
    }
}
