namespace Tessera.Quantization;

/// <summary>
/// What ggml knows about each <see cref="GgmlType"/>: how many values a block holds and how many bytes it takes
/// (ggml.c's <c>type_traits</c>, from the block structs in ggml-common.h), its name, and whether Tessera can read it.
/// </summary>
public static class GgmlTypes
{
    /// <summary>Values in one K-quant super-block (ggml's <c>QK_K</c>).</summary>
    public const int SuperBlock = 256;

    /// <summary>Whether <paramref name="type"/> is one of ggml's current types (not a retired or unknown id).</summary>
    public static bool IsKnown(GgmlType type) => Layout(type).Elements != 0;

    /// <summary>Values per block: 1 for the plain float and integer types, 32 for Q4_0…Q8_1, 256 for the K types.</summary>
    public static int BlockElements(GgmlType type) => Known(type).Elements;

    /// <summary>Bytes per block (for the plain types, bytes per value).</summary>
    public static int BlockBytes(GgmlType type) => Known(type).Bytes;

    /// <summary>Bytes a row of <paramref name="columns"/> values takes; the row must be whole blocks.</summary>
    public static long RowBytes(GgmlType type, long columns)
    {
        var (elements, bytes) = Known(type);
        if (columns < 0 || columns % elements != 0)
            throw new ArgumentException($"A {Name(type)} row holds whole blocks of {elements} values, so it cannot be {columns} values wide.", nameof(columns));
        return columns / elements * bytes;
    }

    /// <summary>Whether <see cref="Dequantize.Row"/> can turn <paramref name="type"/> into F32.</summary>
    public static bool CanDequantize(GgmlType type) => type is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16
        or GgmlType.Q4_0 or GgmlType.Q4_1 or GgmlType.Q5_0 or GgmlType.Q5_1 or GgmlType.Q8_0
        or GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K or GgmlType.Q8_K;

    /// <summary>ggml's name in capitals ("Q4_K", "BF16"), or "type 99" for an id ggml does not define.</summary>
    public static string Name(GgmlType type) => IsKnown(type) ? type.ToString() : $"type {(uint)type}";

    /// <summary>Reads a type name in any case ("q8_0", "Q4_K"); numbers and lists ("Q4_0,Q8_0") are not names.</summary>
    public static bool TryParse(string name, out GgmlType type)
    {
        type = default;
        if (string.IsNullOrEmpty(name) || !char.IsLetter(name[0]) || !name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_')) return false;
        return Enum.TryParse(name, ignoreCase: true, out type) && IsKnown(type);
    }

    private static (int Elements, int Bytes) Known(GgmlType type)
    {
        var layout = Layout(type);
        return layout.Elements != 0 ? layout : throw new NotSupportedException($"{Name(type)} is not a ggml type Tessera knows.");
    }

    private static (int Elements, int Bytes) Layout(GgmlType type) => type switch
    {
        GgmlType.F32 => (1, 4),
        GgmlType.F16 => (1, 2),
        GgmlType.BF16 => (1, 2),
        GgmlType.F64 => (1, 8),
        GgmlType.I8 => (1, 1),
        GgmlType.I16 => (1, 2),
        GgmlType.I32 => (1, 4),
        GgmlType.I64 => (1, 8),
        GgmlType.Q4_0 => (32, 2 + 16),            // d, 32 nibbles
        GgmlType.Q4_1 => (32, 2 + 2 + 16),        // d, m, 32 nibbles
        GgmlType.Q5_0 => (32, 2 + 4 + 16),        // d, high bits, 32 nibbles
        GgmlType.Q5_1 => (32, 2 + 2 + 4 + 16),    // d, m, high bits, 32 nibbles
        GgmlType.Q8_0 => (32, 2 + 32),            // d, 32 bytes
        GgmlType.Q8_1 => (32, 2 + 2 + 32),        // d, s = d·Σq, 32 bytes (gguf-py's table says 40; ggml's struct is 36)
        GgmlType.Q2_K => (SuperBlock, 16 + 64 + 2 + 2),
        GgmlType.Q3_K => (SuperBlock, 32 + 64 + 12 + 2),
        GgmlType.Q4_K => (SuperBlock, 2 + 2 + 12 + 128),
        GgmlType.Q5_K => (SuperBlock, 2 + 2 + 12 + 32 + 128),
        GgmlType.Q6_K => (SuperBlock, 128 + 64 + 16 + 2),
        GgmlType.Q8_K => (SuperBlock, 4 + 256 + 32),
        GgmlType.IQ2_XXS => (SuperBlock, 2 + 64),
        GgmlType.IQ2_XS => (SuperBlock, 2 + 64 + 8),
        GgmlType.IQ2_S => (SuperBlock, 2 + 64 + 16),
        GgmlType.IQ3_XXS => (SuperBlock, 2 + 96),
        GgmlType.IQ3_S => (SuperBlock, 2 + 64 + 32 + 8 + 4),
        GgmlType.IQ1_S => (SuperBlock, 2 + 32 + 16),
        GgmlType.IQ1_M => (SuperBlock, 32 + 16 + 8),
        GgmlType.IQ4_NL => (32, 2 + 16),
        GgmlType.IQ4_XS => (SuperBlock, 2 + 2 + 4 + 128),
        GgmlType.TQ1_0 => (SuperBlock, 2 + 4 * 13),
        GgmlType.TQ2_0 => (SuperBlock, 2 + 64),
        GgmlType.MXFP4 => (32, 1 + 16),
        GgmlType.NVFP4 => (64, 4 + 32),
        GgmlType.Q1_0 => (128, 2 + 16),
        GgmlType.Q2_0 => (64, 2 + 16),
        _ => (0, 0),
    };
}
