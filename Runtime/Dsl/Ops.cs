namespace Tessera;

/// <summary>
/// The op vocabulary of <c>Forward</c> bodies (use with <c>using static Tessera.Ops;</c>). Each method is a marker the
/// generator lowers to IR; none of them runs.
/// </summary>
public static class Ops
{
    /// <summary>
    /// The index of the layer a block runs as, for per-layer choices in a block's Forward: a per-layer [Config] field
    /// read as <c>Sliding[Layer]</c>, or an expression such as <c>(Layer + 1) % 2 == 0</c>.
    /// </summary>
    public static int Layer => throw Dsl.NotExecutable();

    /// <summary>
    /// Rotary position embedding, rotate_half convention, applied per token position: in each head the first
    /// r = (int)(d · <paramref name="rotaryFraction"/>) dimensions rotate as pairs (j, j + r/2) by position · inv_j,
    /// inv_j = θ^(-2j/r) scaled as <paramref name="scaling"/> says; the other d - r dimensions pass unchanged.
    /// </summary>
    /// <param name="x">(T, heads * d)</param>
    /// <param name="heads">number of heads in <paramref name="x"/></param>
    /// <param name="theta">the RoPE base (rope_theta)</param>
    /// <param name="scaling">the frequencies' scaling (a [Config] field bound to rope_scaling); none when left out</param>
    /// <param name="rotaryFraction">partial_rotary_factor: the fraction of each head that rotates</param>
    public static Tensor Rope(Tensor x, int heads, float theta, RopeScaling? scaling = null, float rotaryFraction = 1) => throw Dsl.NotExecutable();

    /// <summary>
    /// Causal scaled-dot-product attention over the KV cache, with grouped-query sharing when kvHeads &lt; heads:
    /// scores s = (q · k) · <paramref name="scale"/>, soft-capped to c · tanh(s / c) when <paramref name="softCap"/> c is
    /// not 0, and with a <paramref name="window"/> W above 0 the query at position i sees only keys j with i - W &lt; j ≤ i
    /// (the last W positions, itself included: Hugging Face's sliding window).
    /// </summary>
    /// <param name="scale">the scores' scale; 0 (left out) means 1/√d</param>
    /// <param name="softCap">the scores' soft-cap; 0 means none</param>
    /// <param name="window">the sliding window; 0 means every earlier position</param>
    /// <returns>(T, heads * d)</returns>
    public static Tensor Attention(Tensor q, Tensor k, Tensor v, KvCache cache, int heads, int kvHeads, float scale = 0, float softCap = 0, int window = 0) =>
        throw Dsl.NotExecutable();

    /// <summary>x · sigmoid(x).</summary>
    public static Tensor Silu(Tensor x) => throw Dsl.NotExecutable();

    /// <summary>sigmoid(x) = 1 / (1 + exp(-x)).</summary>
    public static Tensor Sigmoid(Tensor x) => throw Dsl.NotExecutable();

    /// <summary>Soft-capping: c · tanh(x / c) (Gemma's final logits); x as it is when <paramref name="cap"/> is 0.</summary>
    public static Tensor SoftCap(Tensor x, float cap) => throw Dsl.NotExecutable();

    /// <summary>x · <paramref name="factor"/> (Gemma's embeddings, scaled by √hidden).</summary>
    public static Tensor Scale(Tensor x, float factor) => throw Dsl.NotExecutable();

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
