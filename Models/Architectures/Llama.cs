using static Tessera.Ops;

namespace Tessera.Models;

/// <summary>
/// Llama (Llama 2, Llama 3, 3.1 and 3.2, and the checkpoints that share its block), as Hugging Face transformers'
/// LlamaForCausalLM computes it: RMSNorm, rotate_half RoPE with theta and rope_scaling (llama3, linear, yarn) from the
/// config, grouped-query attention, SwiGLU MLP, a head tied to the embedding only when tie_word_embeddings says so.
/// Shapes: T = tokens, C = Dim, V = Vocab, H = Heads, Hkv = KvHeads, d = HeadDim, F = Intermediate.
/// </summary>
[Model(ModelType = "llama", ContextLength = nameof(ContextLength), Unsupported = "attention_bias|mlp_bias", Expects = "hidden_act:silu")]
public partial class Llama
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
        [Weight("self_attn.o_proj", Out = nameof(Dim), In = "Heads * HeadDim"), RowParallel] Linear O;        // (C, H*d)
        [Weight("post_attention_layernorm", In = nameof(Dim), Epsilon = nameof(Eps))] RmsNorm MlpNorm;
        [Weight("mlp.gate_proj", Out = nameof(Intermediate), In = nameof(Dim)), ColumnParallel] Linear Gate;  // (F, C)
        [Weight("mlp.up_proj", Out = nameof(Intermediate), In = nameof(Dim)), ColumnParallel] Linear Up;      // (F, C)
        [Weight("mlp.down_proj", Out = nameof(Dim), In = nameof(Intermediate)), RowParallel] Linear Down;     // (C, F)

        public Tensor Forward(Tensor x, KvCache cache)
        {
            var h = AttnNorm(x);
            var q = Rope(Q(h), Heads, Theta, Scaling, RotaryFraction);     // (T, H*d)
            var k = Rope(K(h), KvHeads, Theta, Scaling, RotaryFraction);   // (T, Hkv*d)
            x += O(Attention(q, k, V(h), cache, Heads, KvHeads));
            h = MlpNorm(x);
            return x + Down(Silu(Gate(h)) * Up(h));              // (T, C)
        }
    }
}
