using static Tessera.Ops;

namespace Tessera.Models;

/// <summary>
/// Phi-3 and Phi-4 (the phi3 architecture), as Hugging Face transformers' Phi3ForCausalLM computes it: Llama's block
/// with q, k and v stored as one fused qkv_proj ([q | k | v] rows) and gate and up as one gate_up_proj ([gate | up]):
/// each part is split off on load, so it shards like its own projection; partial rotary embeddings
/// (partial_rotary_factor) and a sliding window when the config sets one. LongRoPE scaling (the 128k variants) is
/// refused by name.
/// Shapes: T = tokens, C = Dim, V = Vocab, H = Heads, Hkv = KvHeads, d = HeadDim, F = Intermediate.
/// </summary>
[Model(ModelType = "phi3", ContextLength = nameof(ContextLength), Expects = "hidden_act:silu")]
public partial class Phi3
{
    [Config("hidden_size")] static int Dim;
    [Config("intermediate_size")] static int Intermediate;
    [Config("num_hidden_layers")] static int LayerCount;
    [Config("num_attention_heads")] static int Heads;
    [Config("num_key_value_heads", Default = nameof(Heads))] static int KvHeads;
    [Config("head_dim", Default = "Dim / Heads")] static int HeadDim;
    [Config("vocab_size")] static int Vocab;
    [Config("max_position_embeddings")] static int ContextLength;
    [Config("rms_norm_eps", Default = "0.00001", Positive = true)] static float Eps;
    [Config("rope_theta", Default = "10000", Positive = true)] static float Theta;
    [Config("rope_scaling")] static RopeScaling Scaling;
    [Config("partial_rotary_factor", Default = "1", Positive = true)] static float RotaryFraction;
    [Config("sliding_window", Default = "0", NonNegative = true)] static int Window;
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
        // qkv_proj holds (H + 2 Hkv) * d rows: q's, then k's, then v's.
        [Weight("self_attn.qkv_proj", Out = "Heads * HeadDim", In = nameof(Dim), FusedOut = "(Heads + 2 * KvHeads) * HeadDim", FusedOffset = "0"), ColumnParallel] Linear Q;
        [Weight("self_attn.qkv_proj", Out = "KvHeads * HeadDim", In = nameof(Dim), FusedOut = "(Heads + 2 * KvHeads) * HeadDim", FusedOffset = "Heads * HeadDim"), ColumnParallel] Linear K;
        [Weight("self_attn.qkv_proj", Out = "KvHeads * HeadDim", In = nameof(Dim), FusedOut = "(Heads + 2 * KvHeads) * HeadDim", FusedOffset = "(Heads + KvHeads) * HeadDim"), ColumnParallel] Linear V;
        [Weight("self_attn.o_proj", Out = nameof(Dim), In = "Heads * HeadDim"), RowParallel] Linear O;        // (C, H*d)
        [Weight("post_attention_layernorm", In = nameof(Dim), Epsilon = nameof(Eps))] RmsNorm MlpNorm;
        // gate_up_proj holds 2 F rows: gate's, then up's.
        [Weight("mlp.gate_up_proj", Out = nameof(Intermediate), In = nameof(Dim), FusedOut = "2 * Intermediate", FusedOffset = "0"), ColumnParallel] Linear Gate;
        [Weight("mlp.gate_up_proj", Out = nameof(Intermediate), In = nameof(Dim), FusedOut = "2 * Intermediate", FusedOffset = nameof(Intermediate)), ColumnParallel] Linear Up;
        [Weight("mlp.down_proj", Out = nameof(Dim), In = nameof(Intermediate)), RowParallel] Linear Down;     // (C, F)

        public Tensor Forward(Tensor x, KvCache cache)
        {
            var h = AttnNorm(x);
            var q = Rope(Q(h), Heads, Theta, Scaling, RotaryFraction);     // (T, H*d), the first r of each head's d rotated
            var k = Rope(K(h), KvHeads, Theta, Scaling, RotaryFraction);   // (T, Hkv*d)
            x += O(Attention(q, k, V(h), cache, Heads, KvHeads, window: Window));
            h = MlpNorm(x);
            return x + Down(Silu(Gate(h)) * Up(h));              // up · silu(gate), (T, C)
        }
    }
}
