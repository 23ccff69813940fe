namespace Tessera;

/// <summary>
/// A tensor in a <c>Forward</c> body: (T, C) activations, T tokens by C features. Only the generator gives these
/// expressions meaning; evaluating one at run time is a mistake and throws.
/// </summary>
public readonly struct Tensor
{
    public static Tensor operator +(Tensor a, Tensor b) => throw Dsl.NotExecutable();

    /// <summary>Element-wise product; an operand of width 1 (a per-token scalar, such as a sigmoid gate) multiplies every feature of its row.</summary>
    public static Tensor operator *(Tensor a, Tensor b) => throw Dsl.NotExecutable();
}

/// <summary>
/// A router's decision in a <c>Forward</c> body (<see cref="Ops.Route"/>): which k experts each token goes to, with
/// which weights. Only <see cref="Ops.Mixture"/> reads it.
/// </summary>
public readonly struct Routing;

/// <summary>Module types of the vocabulary. Calling a field of one of these types in Forward applies the module.</summary>
public delegate Tensor Embedding(Tensor tokens);

/// <summary>A learned position table (GPT-2's wpe): maps each token to the row of its position.</summary>
public delegate Tensor PositionEmbedding(Tensor tokens);

/// <summary>y = x Wᵀ (+ b).</summary>
public delegate Tensor Linear(Tensor x);

/// <summary>x · rsqrt(mean(x²) + ε) · w (or · (Offset + w); per head with PerHead).</summary>
public delegate Tensor RmsNorm(Tensor x);

/// <summary>(x - mean) · rsqrt(var + ε) · w + b (biased variance).</summary>
public delegate Tensor LayerNorm(Tensor x);

internal static class Dsl
{
    internal static NotSupportedException NotExecutable() =>
        new("Forward bodies of a [Model] are compiled by the Tessera generator; they are not executable C#. Use the generated engine.");
}
