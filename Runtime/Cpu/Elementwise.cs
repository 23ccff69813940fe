using System.Numerics.Tensors;

namespace Tessera.Cpu;

/// <summary>In-place element-wise steps that generated epilogues and fused loops chain together (vectorised).</summary>
public static class Elementwise
{
    /// <summary>target ← target + other.</summary>
    public static void Add(Span<float> target, ReadOnlySpan<float> other) => TensorPrimitives.Add(target, other, target);

    /// <summary>target ← target · other.</summary>
    public static void Multiply(Span<float> target, ReadOnlySpan<float> other) => TensorPrimitives.Multiply(target, other, target);

    /// <summary>target ← target · target.</summary>
    public static void Square(Span<float> target) => TensorPrimitives.Multiply(target, target, target);

    /// <summary>target ← target · factor (a constant, or one row's scalar in an epilogue).</summary>
    public static void Scale(Span<float> target, float factor) => TensorPrimitives.Multiply(target, factor, target);

    /// <summary>
    /// target (rows, width) ← each row times its scalar: row r · perRow[r] (a (T, 1) gate broadcast over the features).
    /// </summary>
    public static void MultiplyRows(Span<float> target, ReadOnlySpan<float> perRow, int width)
    {
        if (width <= 0) return;
        int rows = target.Length / width;
        for (int r = 0; r < rows; r++) TensorPrimitives.Multiply(target.Slice(r * width, width), perRow[r], target.Slice(r * width, width));
    }
}
