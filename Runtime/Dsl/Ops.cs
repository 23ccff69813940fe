namespace Tessera;

/// <summary>
/// The op vocabulary of <c>Forward</c> bodies (use with <c>using static Tessera.Ops;</c>). Each method is a marker the
/// generator lowers to IR; none of them runs.
/// </summary>
public static class Ops
{
    /// <summary>Rotary position embedding, rotate_half convention (pairs j and j + d/2 of each head), applied per token position.</summary>
    /// <param name="x">(T, heads * d)</param>
    /// <param name="heads">number of heads in <paramref name="x"/></param>
    /// <param name="theta">the RoPE base (rope_theta)</param>
    public static Tensor Rope(Tensor x, int heads, float theta) => throw Dsl.NotExecutable();

    /// <summary>Causal scaled-dot-product attention over the KV cache, with grouped-query sharing when kvHeads &lt; heads.</summary>
    /// <returns>(T, heads * d)</returns>
    public static Tensor Attention(Tensor q, Tensor k, Tensor v, KvCache cache, int heads, int kvHeads) => throw Dsl.NotExecutable();

    /// <summary>x · sigmoid(x).</summary>
    public static Tensor Silu(Tensor x) => throw Dsl.NotExecutable();

    /// <summary>GELU, tanh approximation (gelu_new / gelu_pytorch_tanh).</summary>
    public static Tensor Gelu(Tensor x) => throw Dsl.NotExecutable();

    /// <summary>The <paramref name="index"/>-th of <paramref name="count"/> equal slices of the feature axis (GPT-2's fused c_attn).</summary>
    public static Tensor Chunk(Tensor x, int index, int count) => throw Dsl.NotExecutable();
}
