using static Tessera.Ops;

namespace Tessera.Models;

/// <summary>
/// Qwen2 and Qwen2.5, as Hugging Face transformers' Qwen2ForCausalLM computes it: Llama's block with biases on the
/// q, k and v projections (o has none). With use_sliding_window, the layers from max_window_layers on (or those
/// layer_types names "sliding_attention") attend within sliding_window; by default every layer sees all positions.
/// Shapes: T = tokens, C = Dim, V = Vocab, H = Heads, Hkv = KvHeads, d = HeadDim, F = Intermediate.
/// </summary>
[Model(ModelType = "qwen2", ContextLength = nameof(ContextLength), Expects = "hidden_act:silu")]
public partial class Qwen2
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
    [Config("rope_theta", Default = "10000", Positive = true)] static float Theta;
    [Config("rope_scaling")] static RopeScaling Scaling;
    [Config("partial_rotary_factor", Default = "1", Positive = true)] static float RotaryFraction;
    [Config("use_sliding_window", Default = "false")] static bool UseSlidingWindow;
    [Config("sliding_window", Default = "4096", WhenNull = "0", NonNegative = true)] static int SlidingWindow;
    [Config("max_window_layers", Default = "28", NonNegative = true)] static int MaxWindowLayers;
    [Config("layer_types", Map = "sliding_attention=true|full_attention=false", Default = "Layer >= MaxWindowLayers")] static bool[] SlidingLayer;
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
        [Weight("mlp.gate_proj", Out = nameof(Intermediate), In = nameof(Dim)), ColumnParallel] Linear Gate;  // (F, C)
        [Weight("mlp.up_proj", Out = nameof(Intermediate), In = nameof(Dim)), ColumnParallel] Linear Up;      // (F, C)
        [Weight("mlp.down_proj", Out = nameof(Dim), In = nameof(Intermediate)), RowParallel] Linear Down;     // (C, F)

        public Tensor Forward(Tensor x, KvCache cache)
        {
            var h = AttnNorm(x);
            var q = Rope(Q(h), Heads, Theta, Scaling, RotaryFraction);     // biases added before RoPE
            var k = Rope(K(h), KvHeads, Theta, Scaling, RotaryFraction);
            x += O(Attention(q, k, V(h), cache, Heads, KvHeads, window: UseSlidingWindow && SlidingLayer[Layer] ? SlidingWindow : 0));
            h = MlpNorm(x);
            return x + Down(Silu(Gate(h)) * Up(h));              // (T, C)
        }
    }
}
