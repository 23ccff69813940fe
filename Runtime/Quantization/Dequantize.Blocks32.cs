using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Quantization;

// The 32-value block types. Each block starts with its F16 scale d (Q4_1, Q5_1: then the F16 offset m);
// the nibble types keep value j in the low nibble of byte j and value j + 16 in its high nibble.
public static unsafe partial class Dequantize
{
    private const int Block32 = 32;

    private static void Q4_0Scalar(byte* source, float* destination, int count)
    {
        for (int i = 0; i < count; i++, source += 18, destination += Block32)
        {
            float d = HalfFloat.ToSingle(source);
            byte* qs = source + 2;
            for (int j = 0; j < 16; j++)
            {
                destination[j] = ((qs[j] & 0x0F) - 8) * d;
                destination[j + 16] = ((qs[j] >> 4) - 8) * d;
            }
        }
    }

    private static void Q4_0Vector(byte* source, float* destination, int count)
    {
        var low = Vector256.Create(0x0F);
        var eight = Vector256.Create(8);
        for (int i = 0; i < count; i++, source += 18, destination += Block32)
        {
            var d = Vector256.Create(HalfFloat.ToSingle(source));
            for (int half = 0; half < 16; half += 8)
            {
                var q = Avx2.ConvertToVector256Int32(source + 2 + half);
                Avx.Store(destination + half, Avx.Multiply(Avx.ConvertToVector256Single((q & low) - eight), d));
                Avx.Store(destination + 16 + half, Avx.Multiply(Avx.ConvertToVector256Single(Avx2.ShiftRightLogical(q, 4) - eight), d));
            }
        }
    }

    private static void Q4_1(byte* source, float* destination, int count)
    {
        for (int i = 0; i < count; i++, source += 20, destination += Block32)
        {
            float d = HalfFloat.ToSingle(source), m = HalfFloat.ToSingle(source + 2);
            byte* qs = source + 4;
            for (int j = 0; j < 16; j++)
            {
                destination[j] = (qs[j] & 0x0F) * d + m;
                destination[j + 16] = (qs[j] >> 4) * d + m;
            }
        }
    }

    private static void Q5_0(byte* source, float* destination, int count)
    {
        for (int i = 0; i < count; i++, source += 22, destination += Block32)
        {
            float d = HalfFloat.ToSingle(source);
            uint qh = *(uint*)(source + 2);
            byte* qs = source + 6;
            for (int j = 0; j < 16; j++)
            {
                int high0 = (int)((qh >> j) << 4) & 0x10, high1 = (int)(qh >> (j + 12)) & 0x10;
                destination[j] = ((qs[j] & 0x0F | high0) - 16) * d;
                destination[j + 16] = ((qs[j] >> 4 | high1) - 16) * d;
            }
        }
    }

    private static void Q5_1(byte* source, float* destination, int count)
    {
        for (int i = 0; i < count; i++, source += 24, destination += Block32)
        {
            float d = HalfFloat.ToSingle(source), m = HalfFloat.ToSingle(source + 2);
            uint qh = *(uint*)(source + 4);
            byte* qs = source + 8;
            for (int j = 0; j < 16; j++)
            {
                int high0 = (int)((qh >> j) << 4) & 0x10, high1 = (int)(qh >> (j + 12)) & 0x10;
                destination[j] = (qs[j] & 0x0F | high0) * d + m;
                destination[j + 16] = (qs[j] >> 4 | high1) * d + m;
            }
        }
    }

    private static void Q8_0Scalar(byte* source, float* destination, int count)
    {
        for (int i = 0; i < count; i++, source += 34, destination += Block32)
        {
            float d = HalfFloat.ToSingle(source);
            sbyte* qs = (sbyte*)(source + 2);
            for (int j = 0; j < Block32; j++) destination[j] = qs[j] * d;
        }
    }

    private static void Q8_0Vector(byte* source, float* destination, int count)
    {
        for (int i = 0; i < count; i++, source += 34, destination += Block32)
        {
            var d = Vector256.Create(HalfFloat.ToSingle(source));
            sbyte* qs = (sbyte*)(source + 2);
            for (int j = 0; j < Block32; j += 8)
                Avx.Store(destination + j, Avx.Multiply(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(qs + j)), d));
        }
    }
}
