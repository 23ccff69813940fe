using static Tessera.Ops;

namespace Tessera.Models;

/// <summary>
/// Qwen2-MoE (Qwen1.5-MoE, Qwen2-57B-A14B), as Hugging Face transformers' Qwen2MoeForCausalLM computes it: Qwen2's
/// attention (q/k/v biases), then on sparse layers top-k routed experts (weights renormalised only with
/// norm_topk_prob, which defaults to false here) plus a shared expert every token runs, scaled by
/// sigmoid(shared_expert_gate(h)), one scalar per token. Dense layers (mlp_only_layers, decoder_sparse_step) run a
/// SwiGLU MLP of intermediate_size.
/// Shapes: T = tokens, C = Dim, V = Vocab, H = Heads, Hkv = KvHeads, d = HeadDim, F = Intermediate (dense layers),
/// Fe = ExpertIntermediate, Fs = SharedIntermediate, E = ExpertCount, k = ExpertsPerToken.
/// </summary>
[Model(ModelType = "qwen2_moe", ContextLength = nameof(ContextLength), Expects = "hidden_act:silu")]
public partial class Qwen2Moe
{
    [Config("hidden_size")] static int Dim;
    [Config("intermediate_size")] static int Intermediate;
    [Config("moe_intermediate_size")] static int ExpertIntermediate;
    [Config("shared_expert_intermediate_size")] static int SharedIntermediate;
    [Config("num_hidden_layers")] static int LayerCount;
    [Config("num_attention_heads")] static int Heads;
    [Config("num_key_value_heads", Default = nameof(Heads))] static int KvHeads;
    [Config("head_dim", Default = "Dim / Heads")] static int HeadDim;
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
        [Weight("self_attn.q_proj", Out = "Heads * HeadDim", In = nameof(Dim), Bias = true), ColumnParallel] Linear Q;     // (H*d, C) + (H*d)
        [Weight("self_attn.k_proj", Out = "KvHeads * HeadDim", In = nameof(Dim), Bias = true), ColumnParallel] Linear K;   // (Hkv*d, C) + (Hkv*d)
        [Weight("self_attn.v_proj", Out = "KvHeads * HeadDim", In = nameof(Dim), Bias = true), ColumnParallel] Linear V;   // (Hkv*d, C) + (Hkv*d)
        [Weight("self_attn.o_proj", Out = nameof(Dim), In = "Heads * HeadDim"), RowParallel] Linear O;                     // (C, H*d)
        [Weight("post_attention_layernorm", In = nameof(Dim), Epsilon = nameof(Eps))] RmsNorm MlpNorm;
        [Weight("mlp.gate", Out = nameof(ExpertCount), In = nameof(Dim))] Linear Router;                                   // (E, C), whole on every rank
        [Experts("mlp.experts", Count = nameof(ExpertCount))] Expert[] Experts;                                             // E experts (sparse layers)
        [Weight("mlp.shared_expert.gate_proj", Out = nameof(SharedIntermediate), In = nameof(Dim)), ColumnParallel] Linear SharedGate; // (Fs, C)
        [Weight("mlp.shared_expert.up_proj", Out = nameof(SharedIntermediate), In = nameof(Dim)), ColumnParallel] Linear SharedUp;     // (Fs, C)
        [Weight("mlp.shared_expert.down_proj", Out = nameof(Dim), In = nameof(SharedIntermediate)), RowParallel] Linear SharedDown;    // (C, Fs)
        [Weight("mlp.shared_expert_gate", Out = "1", In = nameof(Dim))] Linear SharedScale;                                 // (1, C), whole on every rank
        [Weight("mlp.gate_proj", Out = nameof(Intermediate), In = nameof(Dim)), ColumnParallel] Linear Gate;               // (F, C), dense layers
        [Weight("mlp.up_proj", Out = nameof(Intermediate), In = nameof(Dim)), ColumnParallel] Linear Up;                   // (F, C), dense layers
        [Weight("mlp.down_proj", Out = nameof(Dim), In = nameof(Intermediate)), RowParallel] Linear Down;                  // (C, F), dense layers

        public Tensor Forward(Tensor x, KvCache cache)
        {
            var h = AttnNorm(x);
            var q = Rope(Q(h), Heads, Theta, Scaling, RotaryFraction);     // biases added before RoPE
            var k = Rope(K(h), KvHeads, Theta, Scaling, RotaryFraction);
            x += O(Attention(q, k, V(h), cache, Heads, KvHeads, window: UseSlidingWindow && SlidingLayer[Layer] ? SlidingWindow : 0));
            h = MlpNorm(x);
            // A sparse layer: the routed experts plus the shared expert, which a per-token sigmoid gate scales.
            var routed = Mixture(Experts, h, Route(Router(h), ExpertsPerToken, NormTopK));
            var shared = Sigmoid(SharedScale(h)) * SharedDown(Silu(SharedGate(h)) * SharedUp(h));
            return !DenseLayer[Layer] && (Layer + 1) % SparseStep == 0
                ? x + (routed + shared)
                : x + Down(Silu(Gate(h)) * Up(h));               // a dense layer
        }
    }

    /// <summary>One routed expert: a SwiGLU MLP of moe_intermediate_size.</summary>
    public partial class Expert
    {
        [Weight("gate_proj", Out = nameof(ExpertIntermediate), In = nameof(Dim)), ColumnParallel] Linear Gate; // (Fe, C)
        [Weight("up_proj", Out = nameof(ExpertIntermediate), In = nameof(Dim)), ColumnParallel] Linear Up;     // (Fe, C)
        [Weight("down_proj", Out = nameof(Dim), In = nameof(ExpertIntermediate)), RowParallel] Linear Down;    // (C, Fe)

        public Tensor Forward(Tensor x) => Down(Silu(Gate(x)) * Up(x));
    }
}
