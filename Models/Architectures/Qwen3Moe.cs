using static Tessera.Ops;

namespace Tessera.Models;

/// <summary>
/// Qwen3-MoE, as Hugging Face transformers' Qwen3MoeForCausalLM computes it: Qwen3's attention (per-head q/k RMSNorm
/// before RoPE), then on sparse layers a router over num_experts experts: p = softmax(gate(h)), each token's top-k
/// experts by p, their weights renormalised to sum 1 when norm_topk_prob, the weighted sum of their SwiGLU MLPs. A
/// layer is sparse unless mlp_only_layers lists it or (layer + 1) is not a multiple of decoder_sparse_step; the others
/// run a dense SwiGLU MLP of intermediate_size (and hold its weights only).
/// Shapes: T = tokens, C = Dim, V = Vocab, H = Heads, Hkv = KvHeads, d = HeadDim, F = Intermediate (dense layers),
/// Fe = ExpertIntermediate, E = ExpertCount, k = ExpertsPerToken.
/// </summary>
[Model(ModelType = "qwen3_moe", ContextLength = nameof(ContextLength), Unsupported = "attention_bias", Expects = "hidden_act:silu")]
public partial class Qwen3Moe
{
    [Config("hidden_size")] static int Dim;
    [Config("intermediate_size")] static int Intermediate;
    [Config("moe_intermediate_size")] static int ExpertIntermediate;
    [Config("num_hidden_layers")] static int LayerCount;
    [Config("num_attention_heads")] static int Heads;
    [Config("num_key_value_heads", Default = nameof(Heads))] static int KvHeads;
    [Config("head_dim", Default = "128")] static int HeadDim;
    [Config("vocab_size")] static int Vocab;
    [Config("max_position_embeddings")] static int ContextLength;
    [Config("rms_norm_eps", Default = "0.000001", Positive = true)] static float Eps;
    [Config("rope_theta", Default = "10000", Positive = true)] static float Theta;
    [Config("rope_scaling")] static RopeScaling Scaling;
    [Config("partial_rotary_factor", Default = "1", Positive = true)] static float RotaryFraction;
    [Config("use_sliding_window", Default = "false")] static bool UseSlidingWindow;
    [Config("sliding_window", Default = "4096", WhenNull = "0", NonNegative = true)] static int SlidingWindow;
    [Config("max_window_layers", Default = "28", NonNegative = true)] static int MaxWindowLayers;
    [Config("layer_types", Map = "sliding_attention=true|full_attention=false", Default = "Layer >= MaxWindowLayers")] static bool[] SlidingLayer;
    [Config("num_experts")] static int ExpertCount;
    [Config("num_experts_per_tok")] static int ExpertsPerToken;
    [Config("norm_topk_prob", Default = "false")] static bool NormTopK;
    [Config("decoder_sparse_step", Default = "1")] static int SparseStep;
    [Config("mlp_only_layers", Indices = true, Default = "false")] static bool[] DenseLayer;
    [Config("tie_word_embeddings", Default = "false")] static bool Tied;

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
        [Weight("self_attn.q_norm", In = nameof(HeadDim), Epsilon = nameof(Eps), PerHead = true)] RmsNorm QNorm; // (d), every head
        [Weight("self_attn.k_norm", In = nameof(HeadDim), Epsilon = nameof(Eps), PerHead = true)] RmsNorm KNorm; // (d), every head
        [Weight("self_attn.o_proj", Out = nameof(Dim), In = "Heads * HeadDim"), RowParallel] Linear O;        // (C, H*d)
        [Weight("post_attention_layernorm", In = nameof(Dim), Epsilon = nameof(Eps))] RmsNorm MlpNorm;
        [Weight("mlp.gate", Out = nameof(ExpertCount), In = nameof(Dim))] Linear Router;                      // (E, C), whole on every rank
        [Experts("mlp.experts", Count = nameof(ExpertCount))] Expert[] Experts;                                // E experts (sparse layers)
        [Weight("mlp.gate_proj", Out = nameof(Intermediate), In = nameof(Dim)), ColumnParallel] Linear Gate;  // (F, C), dense layers
        [Weight("mlp.up_proj", Out = nameof(Intermediate), In = nameof(Dim)), ColumnParallel] Linear Up;      // (F, C), dense layers
        [Weight("mlp.down_proj", Out = nameof(Dim), In = nameof(Intermediate)), RowParallel] Linear Down;     // (C, F), dense layers

        public Tensor Forward(Tensor x, KvCache cache)
        {
            var h = AttnNorm(x);
            var q = Rope(QNorm(Q(h)), Heads, Theta, Scaling, RotaryFraction);     // each head normed, then rotated
            var k = Rope(KNorm(K(h)), KvHeads, Theta, Scaling, RotaryFraction);
            x += O(Attention(q, k, V(h), cache, Heads, KvHeads, window: UseSlidingWindow && SlidingLayer[Layer] ? SlidingWindow : 0));
            h = MlpNorm(x);
            return !DenseLayer[Layer] && (Layer + 1) % SparseStep == 0
                ? x + Mixture(Experts, h, Route(Router(h), ExpertsPerToken, NormTopK))   // a sparse layer
                : x + Down(Silu(Gate(h)) * Up(h));                                       // a dense one
        }
    }

    /// <summary>One expert: a SwiGLU MLP of moe_intermediate_size, tensor-parallel like the dense MLP.</summary>
    public partial class Expert
    {
        [Weight("gate_proj", Out = nameof(ExpertIntermediate), In = nameof(Dim)), ColumnParallel] Linear Gate; // (Fe, C)
        [Weight("up_proj", Out = nameof(ExpertIntermediate), In = nameof(Dim)), ColumnParallel] Linear Up;     // (Fe, C)
        [Weight("down_proj", Out = nameof(Dim), In = nameof(ExpertIntermediate)), RowParallel] Linear Down;    // (C, Fe)

        public Tensor Forward(Tensor x) => Down(Silu(Gate(x)) * Up(x));
    }
}
