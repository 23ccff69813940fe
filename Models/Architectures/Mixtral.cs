using static Tessera.Ops;

namespace Tessera.Models;

/// <summary>
/// Mixtral (sparse mixture of experts), as Hugging Face transformers' MixtralForCausalLM computes it: Llama's attention
/// block (RMSNorm, rotate_half RoPE, grouped-query attention, a sliding window when the config sets one), then in place
/// of the dense MLP a router over E experts:
/// p = softmax(router(h)) over all experts, each token's top-k experts by p renormalised to sum 1, the output the
/// weighted sum of those experts' SwiGLU MLPs. Each expert runs only on the tokens routed to it.
/// Shapes: T = tokens, C = Dim, V = Vocab, H = Heads, Hkv = KvHeads, d = HeadDim, F = Intermediate (per expert),
/// E = ExpertCount, k = ExpertsPerToken.
/// </summary>
[Model(ModelType = "mixtral", ContextLength = nameof(ContextLength), Expects = "hidden_act:silu")]
public partial class Mixtral
{
    [Config("hidden_size")] static int Dim;
    [Config("intermediate_size")] static int Intermediate;
    [Config("num_hidden_layers")] static int LayerCount;
    [Config("num_attention_heads")] static int Heads;
    [Config("num_key_value_heads", Default = nameof(Heads))] static int KvHeads;
    [Config("head_dim", Default = "Dim / Heads")] static int HeadDim;
    [Config("vocab_size")] static int Vocab;
    [Config("max_position_embeddings")] static int ContextLength;
    [Config("rms_norm_eps", Default = "0.000001", Positive = true)] static float Eps;
    [Config("rope_theta", Default = "1000000", Positive = true)] static float Theta;
    [Config("rope_scaling")] static RopeScaling Scaling;
    [Config("partial_rotary_factor", Default = "1", Positive = true)] static float RotaryFraction;
    [Config("sliding_window", Default = "0", NonNegative = true)] static int Window;
    [Config("tie_word_embeddings", Default = "false")] static bool Tied;
    [Config("num_local_experts")] static int ExpertCount;
    [Config("num_experts_per_tok")] static int ExpertsPerToken;

    [Weight("model.embed_tokens", Out = nameof(Vocab), In = nameof(Dim)), Replicated] Embedding Embed;      // (V, C)
    [Layers("model.layers", Count = nameof(LayerCount))] Block[] Layers;
    [Weight("model.norm", In = nameof(Dim), Epsilon = nameof(Eps))] RmsNorm Norm;                            // (C)
    [Weight("lm_head", Out = nameof(Vocab), In = nameof(Dim), TiedTo = nameof(Embed), TiedWhen = nameof(Tied)), ColumnParallel] Linear Head; // (V, C)

    Tensor Forward(Tensor tokens, KvCache cache)
    {
        var x = Embed(tokens);                                   // (T, C)
        foreach (var layer in Layers) x = layer.Forward(x, cache);
        return Head(Norm(x));                                    // (T, V)
    }

    public partial class Block
    {
        [Weight("input_layernorm", In = nameof(Dim), Epsilon = nameof(Eps))] RmsNorm AttnNorm;
        [Weight("self_attn.q_proj", Out = "Heads * HeadDim", In = nameof(Dim)), ColumnParallel] Linear Q;     // (H*d, C)
        [Weight("self_attn.k_proj", Out = "KvHeads * HeadDim", In = nameof(Dim)), ColumnParallel] Linear K;   // (Hkv*d, C)
        [Weight("self_attn.v_proj", Out = "KvHeads * HeadDim", In = nameof(Dim)), ColumnParallel] Linear V;   // (Hkv*d, C)
        [Weight("self_attn.o_proj", Out = nameof(Dim), In = "Heads * HeadDim"), RowParallel] Linear O;        // (C, H*d)
        [Weight("post_attention_layernorm", In = nameof(Dim), Epsilon = nameof(Eps))] RmsNorm MlpNorm;
        [Weight("block_sparse_moe.gate", Out = nameof(ExpertCount), In = nameof(Dim))] Linear Router;         // (E, C), whole on every rank
        [Experts("block_sparse_moe.experts", Count = nameof(ExpertCount))] Expert[] Experts;                  // E experts

        public Tensor Forward(Tensor x, KvCache cache)
        {
            var h = AttnNorm(x);
            var q = Rope(Q(h), Heads, Theta, Scaling, RotaryFraction);     // (T, H*d)
            var k = Rope(K(h), KvHeads, Theta, Scaling, RotaryFraction);   // (T, Hkv*d)
            x += O(Attention(q, k, V(h), cache, Heads, KvHeads, window: Window));
            h = MlpNorm(x);
            var routing = Route(Router(h), ExpertsPerToken);     // softmax over E, top-k, renormalised
            return x + Mixture(Experts, h, routing);             // (T, C)
        }
    }

    /// <summary>One expert: a SwiGLU MLP, w2(silu(w1(x)) * w3(x)), tensor-parallel like Llama's MLP.</summary>
    public partial class Expert
    {
        [Weight("w1", Out = nameof(Intermediate), In = nameof(Dim)), ColumnParallel] Linear W1;               // (F, C) gate
        [Weight("w3", Out = nameof(Intermediate), In = nameof(Dim)), ColumnParallel] Linear W3;               // (F, C) up
        [Weight("w2", Out = nameof(Dim), In = nameof(Intermediate)), RowParallel] Linear W2;                  // (C, F) down

        public Tensor Forward(Tensor x) => W2(Silu(W1(x)) * W3(x));
    }
}
