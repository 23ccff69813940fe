using System.Numerics.Tensors;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Quantization;

/// <summary>
/// ggml's block formats to F32, value for value what ggml's <c>dequantize_row_*</c> (ggml/src/ggml-quants.c)
/// computes: every product and difference in float, in ggml's order (so Q4_K is <c>(d·sc)·q − dmin·m</c>), never fused.
/// The hot types have a Vector256 path beside the scalar one; both give the same bits.
/// </summary>
public static unsafe partial class Dequantize
{
    /// <summary>
    /// The first <c>destination.Length</c> values of a row stored as <paramref name="type"/> blocks in
    /// <paramref name="blocks"/>; <c>destination.Length</c> is a whole number of blocks.
    /// </summary>
    public static void Row(GgmlType type, ReadOnlySpan<byte> blocks, Span<float> destination) =>
        Row(type, blocks, destination, vectorize: true);

    /// <summary>
    /// <see cref="Row(GgmlType, ReadOnlySpan{byte}, Span{float})"/>, taking the scalar paths when
    /// <paramref name="vectorize"/> is false (for tests).
    /// </summary>
    internal static void Row(GgmlType type, ReadOnlySpan<byte> blocks, Span<float> destination, bool vectorize)
    {
        if (!GgmlTypes.CanDequantize(type))
            throw new NotSupportedException($"Tessera cannot dequantize {GgmlTypes.Name(type)}.");
        long bytes = GgmlTypes.RowBytes(type, destination.Length);
        if (blocks.Length < bytes)
            throw new ArgumentException($"{destination.Length} {GgmlTypes.Name(type)} values take {bytes} bytes, but the row has {blocks.Length}.", nameof(blocks));
        fixed (byte* source = blocks)
        fixed (float* target = destination)
            Blocks(type, source, target, destination.Length / GgmlTypes.BlockElements(type), vectorize);
    }

    /// <summary><paramref name="count"/> blocks of <paramref name="type"/> (checked by the caller) to floats.</summary>
    internal static void Blocks(GgmlType type, byte* source, float* destination, int count, bool vectorize = true)
    {
        vectorize &= Avx2.IsSupported;
        switch (type)
        {
            case GgmlType.F32: new ReadOnlySpan<byte>(source, count * sizeof(float)).CopyTo(new Span<byte>(destination, count * sizeof(float))); break;
            case GgmlType.F16: TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>(source, count), new Span<float>(destination, count)); break;
            case GgmlType.BF16: Bf16(source, destination, count); break;
            case GgmlType.Q4_0: if (vectorize) Q4_0Vector(source, destination, count); else Q4_0Scalar(source, destination, count); break;
            case GgmlType.Q4_1: Q4_1(source, destination, count); break;
            case GgmlType.Q5_0: Q5_0(source, destination, count); break;
            case GgmlType.Q5_1: Q5_1(source, destination, count); break;
            case GgmlType.Q8_0: if (vectorize) Q8_0Vector(source, destination, count); else Q8_0Scalar(source, destination, count); break;
            case GgmlType.Q2_K: Q2_K(source, destination, count); break;
            case GgmlType.Q3_K: Q3_K(source, destination, count); break;
            case GgmlType.Q4_K: if (vectorize) Q4_KVector(source, destination, count); else Q4_KScalar(source, destination, count); break;
            case GgmlType.Q5_K: if (vectorize) Q5_KVector(source, destination, count); else Q5_KScalar(source, destination, count); break;
            case GgmlType.Q6_K: if (vectorize) Q6_KVector(source, destination, count); else Q6_KScalar(source, destination, count); break;
            case GgmlType.Q8_K: Q8_K(source, destination, count); break;
            default: throw new NotSupportedException($"Tessera cannot dequantize {GgmlTypes.Name(type)}.");
        }
    }

    private static void Bf16(byte* source, float* destination, int count)
    {
        var bits = (ushort*)source;
        for (int i = 0; i < count; i++) destination[i] = HalfFloat.Bf16ToSingle(bits[i]);
    }
}
