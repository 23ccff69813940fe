using static Tessera.Ops;

namespace Tessera.Models;

/// <summary>
/// Gemma 2, as Hugging Face transformers' Gemma2ForCausalLM computes it: embeddings scaled by √hidden, RMSNorms that
/// scale by (1 + w), a norm after attention and after the MLP as well as before each, GeGLU with the tanh GELU,
/// scores scaled by query_pre_attn_scalar^-0.5 and soft-capped, sliding-window attention on the local layers (the even
/// ones, unless layer_types says otherwise) and full attention on the others, a head tied to the embedding whose
/// logits are soft-capped too.
/// Shapes: T = tokens, C = Dim, V = Vocab, H = Heads, Hkv = KvHeads, d = HeadDim, F = Intermediate.
/// </summary>
[Model(ModelType = "gemma2", ContextLength = nameof(ContextLength), Unsupported = "attention_bias", Expects = "hidden_activation:gelu_pytorch_tanh")]
public partial class Gemma2
{
    [Config("hidden_size")] static int Dim;
    [Config("intermediate_size")] static int Intermediate;
    [Config("num_hidden_layers")] static int LayerCount;
    [Config("num_attention_heads")] static int Heads;
    [Config("num_key_value_heads", Default = nameof(Heads))] static int KvHeads;
    [Config("head_dim", Default = "256")] static int HeadDim;
    [Config("vocab_size")] static int Vocab;
    [Config("max_position_embeddings", Default = "8192")] static int ContextLength;
    [Config("rms_norm_eps", Default = "0.000001", Positive = true)] static float Eps;
    [Config("rope_theta", Default = "10000", Positive = true)] static float Theta;
    [Config("rope_scaling")] static RopeScaling Scaling;
    [Config("partial_rotary_factor", Default = "1", Positive = true)] static float RotaryFraction;
    [Config("query_pre_attn_scalar", Default = "256", Positive = true)] static float QueryScalar;
    [Config("attn_logit_softcapping", Default = "50", WhenNull = "0", NonNegative = true)] static float AttentionCap;
    [Config("final_logit_softcapping", Default = "30", WhenNull = "0", NonNegative = true)] static float FinalCap;
    [Config("sliding_window", Default = "4096", WhenNull = "0", NonNegative = true)] static int Window;
    [Config("layer_types", Map = "sliding_attention=true|full_attention=false", Default = "(Layer + 1) % 2 != 0")] static bool[] Sliding;
    [Config("tie_word_embeddings", Default = "true")] static bool Tied;

    [Weight("model.embed_tokens", Out = nameof(Vocab), In = nameof(Dim)), Replicated] Embedding Embed;                     // (V, C)
    [Layers("model.layers", Count = nameof(LayerCount))] Block[] Layers;
    [Weight("model.norm", In = nameof(Dim), Epsilon = nameof(Eps), Offset = 1)] RmsNorm Norm;                               // (C)
    [Weight("lm_head", Out = nameof(Vocab), In = nameof(Dim), TiedTo = nameof(Embed), TiedWhen = nameof(Tied)), ColumnParallel] Linear Head; // (V, C)

    Tensor Forward(Tensor tokens, KvCache cache)
    {
        var x = Scale(Embed(tokens), System.MathF.Sqrt(Dim));  // (T, C)
        foreach (var layer in Layers) x = layer.Forward(x, cache);
        return SoftCap(Head(Norm(x)), FinalCap);                // (T, V)
    }

    public partial class Block
    {
        [Weight("input_layernorm", In = nameof(Dim), Epsilon = nameof(Eps), Offset = 1)] RmsNorm AttnNorm;
        [Weight("self_attn.q_proj", Out = "Heads * HeadDim", In = nameof(Dim)), ColumnParallel] Linear Q;     // (H*d, C)
        [Weight("self_attn.k_proj", Out = "KvHeads * HeadDim", In = nameof(Dim)), ColumnParallel] Linear K;   // (Hkv*d, C)
        [Weight("self_attn.v_proj", Out = "KvHeads * HeadDim", In = nameof(Dim)), ColumnParallel] Linear V;   // (Hkv*d, C)
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
            var q = Rope(Q(h), Heads, Theta, Scaling, RotaryFraction);     // (T, H*d)
            var k = Rope(K(h), KvHeads, Theta, Scaling, RotaryFraction);   // (T, Hkv*d)
            var attention = Attention(q, k, V(h), cache, Heads, KvHeads,
                scale: 1 / System.MathF.Sqrt(QueryScalar), softCap: AttentionCap, window: Sliding[Layer] ? Window : 0);
            x += PostAttnNorm(O(attention));
            h = MlpNorm(x);
            return x + PostMlpNorm(Down(Gelu(Gate(h)) * Up(h)));  // GeGLU, (T, C)
        }
    }
}
