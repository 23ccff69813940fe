using static Tessera.Ops;

namespace Tessera.Models;

/// <summary>
/// Gemma 3's text model, as Hugging Face transformers' Gemma3ForCausalLM computes it: Gemma 2's block without the
/// attention soft-cap, with an RMSNorm (1 + w) over each head of q and k before RoPE, local layers (every
/// sliding_window_pattern-th layer is global, unless layer_types says otherwise) attending within the sliding window
/// with RoPE base rope_local_base_freq and no scaling, global layers with rope_theta and rope_scaling.
/// Shapes: T = tokens, C = Dim, V = Vocab, H = Heads, Hkv = KvHeads, d = HeadDim, F = Intermediate.
/// </summary>
[Model(ModelType = "gemma3_text", ContextLength = nameof(ContextLength), Unsupported = "attention_bias", Expects = "hidden_activation:gelu_pytorch_tanh")]
public partial class Gemma3
{
    [Config("hidden_size")] static int Dim;
    [Config("intermediate_size")] static int Intermediate;
    [Config("num_hidden_layers")] static int LayerCount;
    [Config("num_attention_heads", Default = "8")] static int Heads;
    [Config("num_key_value_heads", Default = "4")] static int KvHeads;
    [Config("head_dim", Default = "256")] static int HeadDim;
    [Config("vocab_size", Default = "262208")] static int Vocab;
    [Config("max_position_embeddings", Default = "131072")] static int ContextLength;
    [Config("rms_norm_eps", Default = "0.000001", Positive = true)] static float Eps;
    [Config("rope_theta", Default = "1000000", Positive = true)] static float Theta;
    [Config("rope_local_base_freq", Default = "10000", Positive = true)] static float LocalTheta;
    [Config("rope_scaling")] static RopeScaling Scaling;
    [Config("partial_rotary_factor", Default = "1", Positive = true)] static float RotaryFraction;
    [Config("query_pre_attn_scalar", Default = "256", Positive = true)] static float QueryScalar;
    [Config("final_logit_softcapping", Default = "0", NonNegative = true)] static float FinalCap;
    [Config("sliding_window", Default = "4096", WhenNull = "0", NonNegative = true)] static int Window;
    [Config("sliding_window_pattern|_sliding_window_pattern", Default = "6")] static int SlidingPattern;
    [Config("layer_types", Map = "sliding_attention=true|full_attention=false", Default = "(Layer + 1) % SlidingPattern != 0")] static bool[] Sliding;
    [Config("tie_word_embeddings", Default = "true")] static bool Tied;

    [Weight("model.embed_tokens", Out = nameof(Vocab), In = nameof(Dim)), Replicated] Embedding Embed;                     // (V, C)
    [Layers("model.layers", Count = nameof(LayerCount))] Block[] Layers;
    [Weight("model.norm", In = nameof(Dim), Epsilon = nameof(Eps), Offset = 1)] RmsNorm Norm;                               // (C)
    [Weight("lm_head", Out = nameof(Vocab), In = nameof(Dim), TiedTo = nameof(Embed), TiedWhen = nameof(Tied)), ColumnParallel] Linear Head; // (V, C)

    Tensor Forward(Tensor tokens, KvCache cache)
    {
        var x = Scale(Embed(tokens), System.MathF.Sqrt(Dim));  // (T, C)
        foreach (var layer in Layers) x = layer.Forward(x, cache);
        return SoftCap(Head(Norm(x)), FinalCap);                // (T, V); no cap unless the config sets one
    }

    public partial class Block
    {
        [Weight("input_layernorm", In = nameof(Dim), Epsilon = nameof(Eps), Offset = 1)] RmsNorm AttnNorm;
        [Weight("self_attn.q_proj", Out = "Heads * HeadDim", In = nameof(Dim)), ColumnParallel] Linear Q;     // (H*d, C)
        [Weight("self_attn.k_proj", Out = "KvHeads * HeadDim", In = nameof(Dim)), ColumnParallel] Linear K;   // (Hkv*d, C)
        [Weight("self_attn.v_proj", Out = "KvHeads * HeadDim", In = nameof(Dim)), ColumnParallel] Linear V;   // (Hkv*d, C)
        [Weight("self_attn.q_norm", In = nameof(HeadDim), Epsilon = nameof(Eps), PerHead = true, Offset = 1)] RmsNorm QNorm; // (d), every head
        [Weight("self_attn.k_norm", In = nameof(HeadDim), Epsilon = nameof(Eps), PerHead = true, Offset = 1)] RmsNorm KNorm; // (d), every head
        [Weight("self_attn.o_proj", Out = nameof(Dim), In = "Heads * HeadDim"), RowParallel] Linear O;        // (C, H*d)
        [Weight("post_attention_layernorm", In = nameof(Dim), Epsilon = nameof(Eps), Offset = 1)] RmsNorm PostAttnNorm;
        [Weight("pre_feedforward_layernorm", In = nameof(Dim), Epsilon = nameof(Eps), Offset = 1)] RmsNorm MlpNorm;
        [Weight("post_feedforward_layernorm", In = nameof(Dim), Epsilon = nameof(Eps), Offset = 1)] RmsNorm PostMlpNorm;
        [Weight("mlp.gate_proj", Out = nameof(Intermediate), In = nameof(Dim)), ColumnParallel] Linear Gate;  // (F, C)
        [Weight("mlp.up_proj", Out = nameof(Intermediate), In = nameof(Dim)), ColumnParallel] Linear Up;      // (F, C)
        [Weight("mlp.down_proj", Out = nameof(Dim), In = nameof(Intermediate)), RowParallel] Linear Down;     // (C, F)

        public Tensor Forward(Tensor x, KvCache cache)
        {
            var h = AttnNorm(x);
            // Local layers rotate with their own base and no scaling; global ones with rope_theta and rope_scaling.
            var q = Rope(QNorm(Q(h)), Heads, Sliding[Layer] ? LocalTheta : Theta, Sliding[Layer] ? RopeScaling.None : Scaling, RotaryFraction);
            var k = Rope(KNorm(K(h)), KvHeads, Sliding[Layer] ? LocalTheta : Theta, Sliding[Layer] ? RopeScaling.None : Scaling, RotaryFraction);
            var attention = Attention(q, k, V(h), cache, Heads, KvHeads, scale: 1 / System.MathF.Sqrt(QueryScalar), window: Sliding[Layer] ? Window : 0);
            x += PostAttnNorm(O(attention));
            h = MlpNorm(x);
            return x + PostMlpNorm(Down(Gelu(Gate(h)) * Up(h)));  // GeGLU, (T, C)
        }
    }
}
