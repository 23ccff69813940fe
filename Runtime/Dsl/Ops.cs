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

    /// <summary>
    /// A mixture-of-experts router's decision for every token: p = softmax(<paramref name="logits"/>) over all experts,
    /// the <paramref name="k"/> experts of highest p (ties to the lower index), and their weights p_e, divided by the sum
    /// of the chosen p when <paramref name="renormalize"/> (Mixtral, Qwen-MoE's norm_topk_prob) or left as they are
    /// (Switch-style top-1, Qwen-MoE without norm_topk_prob).
    /// </summary>
    /// <param name="logits">(T, E) router logits, one column per expert</param>
    /// <param name="k">experts per token (num_experts_per_tok), 1 ≤ k ≤ E</param>
    /// <param name="renormalize">a literal or a bool [Config] field</param>
    public static Routing Route(Tensor logits, int k, bool renormalize = true) => throw Dsl.NotExecutable();

    /// <summary>
    /// The sparse mixture: each expert runs only on the tokens routed to it, and each token's output is the weighted sum
    /// of its chosen experts' outputs, y = Σ_e w_e · expert_e(x), summed in expert order.
    /// </summary>
    /// <param name="experts">an [Experts] field: an array of an expert block type with a <c>Tensor Forward(Tensor x)</c></param>
    /// <param name="x">(T, C) the tokens</param>
    /// <param name="routing">the router's decision (<see cref="Route"/>)</param>
    /// <returns>(T, width of an expert's output)</returns>
    public static Tensor Mixture<TExpert>(TExpert[] experts, Tensor x, Routing routing) => throw Dsl.NotExecutable();
}
