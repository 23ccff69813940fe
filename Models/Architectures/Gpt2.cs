using static Tessera.Ops;

namespace Tessera.Models;

/// <summary>
/// GPT-2 as Hugging Face's GPT2LMHeadModel computes it: learned positions, pre-LayerNorm blocks, Conv1D weights
/// stored [in, out], fused c_attn split into q | k | v, gelu_new, and a head tied to the token embedding.
/// Shapes: T = tokens, C = Dim, V = Vocab, H = Heads, F = Inner.
/// </summary>
[Model(ModelType = "gpt2", ContextLength = nameof(ContextLength), Unsupported = "scale_attn_by_inverse_layer_idx|reorder_and_upcast_attn", Expects = "activation_function:gelu_new,gelu_pytorch_tanh")]
public partial class Gpt2
{
    [Config("n_embd|hidden_size")] static int Dim;
    [Config("n_layer|num_hidden_layers")] static int LayerCount;
    [Config("n_head|num_attention_heads")] static int Heads;
    [Config("n_inner", Default = "4 * Dim")] static int Inner;
    [Config("vocab_size")] static int Vocab;
    [Config("n_positions|max_position_embeddings")] static int ContextLength;
    [Config("layer_norm_epsilon", Default = "0.00001", Positive = true)] static float Eps;

    [Weight("wte", Out = nameof(Vocab), In = nameof(Dim)), Replicated] Embedding TokenEmbed;                  // (V, C)
    [Weight("wpe", Out = nameof(ContextLength), In = nameof(Dim)), Replicated] PositionEmbedding PositionEmbed; // (ctx, C)
    [Layers("h", Count = nameof(LayerCount))] Block[] Layers;
    [Weight("ln_f", In = nameof(Dim), Epsilon = nameof(Eps))] LayerNorm Norm;
    [Weight("lm_head", Out = nameof(Vocab), In = nameof(Dim), TiedTo = nameof(TokenEmbed)), ColumnParallel] Linear Head; // (V, C), always wte

    Tensor Forward(Tensor tokens, KvCache cache)
    {
        var x = TokenEmbed(tokens) + PositionEmbed(tokens);      // (T, C)
        foreach (var layer in Layers) x = layer.Forward(x, cache);
        return Head(Norm(x));                                    // (T, V)
    }

    public partial class Block
    {
        [Weight("ln_1", In = nameof(Dim), Epsilon = nameof(Eps))] LayerNorm AttnNorm;
        [Weight("attn.c_attn", Out = "3 * Dim", In = nameof(Dim), Bias = true, Layout = WeightLayout.InOut), ColumnParallel] Linear Qkv; // (3C, C)
        [Weight("attn.c_proj", Out = nameof(Dim), In = nameof(Dim), Bias = true, Layout = WeightLayout.InOut), RowParallel] Linear Proj;  // (C, C)
        [Weight("ln_2", In = nameof(Dim), Epsilon = nameof(Eps))] LayerNorm MlpNorm;
        [Weight("mlp.c_fc", Out = nameof(Inner), In = nameof(Dim), Bias = true, Layout = WeightLayout.InOut), ColumnParallel] Linear Fc;  // (F, C)
        [Weight("mlp.c_proj", Out = nameof(Dim), In = nameof(Inner), Bias = true, Layout = WeightLayout.InOut), RowParallel] Linear Down; // (C, F)

        public Tensor Forward(Tensor x, KvCache cache)
        {
            var qkv = Qkv(AttnNorm(x));                          // (T, 3C)
            var q = Chunk(qkv, 0, 3);
            var k = Chunk(qkv, 1, 3);
            var v = Chunk(qkv, 2, 3);
            x += Proj(Attention(q, k, v, cache, Heads, Heads));
            return x + Down(Gelu(Fc(MlpNorm(x))));               // (T, C)
        }
    }
}
