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
}
