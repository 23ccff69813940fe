namespace Tessera.Models;

/// <summary>The bundled tiny Llama, compiled with its sizes folded as constants (read from its config at build time).</summary>
[Compile(typeof(Llama), Config = "Checkpoints/tiny-llama/config.json")]
public partial class TinyLlama;

/// <summary>The bundled tiny GPT-2, specialised the same way.</summary>
[Compile(typeof(Gpt2), Config = "Checkpoints/tiny-gpt2/config.json")]
public partial class TinyGpt2;

/// <summary>
/// The tiny Llama folded into a 2 x 2 plan: two pipeline stages, each split over two tensor-parallel ranks, with four
/// micro-batches per forward. <c>TinyLlamaTp2Pp2.Load(dir)</c> starts the four CPU devices.
/// </summary>
[Compile(typeof(Llama), Config = "Checkpoints/tiny-llama/config.json", Tensor = 2, Pipeline = 2, MicroBatches = 4)]
public partial class TinyLlamaTp2Pp2;

/// <summary>The bundled tiny Mixtral (4 experts, top-2), specialised.</summary>
[Compile(typeof(Mixtral), Config = "Checkpoints/tiny-mixtral/config.json")]
public partial class TinyMixtral;

/// <summary>
/// The tiny Mixtral folded into an expert x tensor hybrid: two expert ranks (two experts each, attention for their own
/// sequences), each expert split over two tensor-parallel ranks. <c>TinyMixtralEp2Tp2.Load(dir)</c> starts the four CPU devices.
/// </summary>
[Compile(typeof(Mixtral), Config = "Checkpoints/tiny-mixtral/config.json", Expert = 2, Tensor = 2)]
public partial class TinyMixtralEp2Tp2;

/// <summary>
/// The tiny Llama folded into a sequence x tensor hybrid: each sequence's tokens split over two sequence ranks (each
/// keeping the keys and values of its own tokens), each rank's layers split over two tensor-parallel ranks.
/// </summary>
[Compile(typeof(Llama), Config = "Checkpoints/tiny-llama/config.json", Sequence = 2, Tensor = 2)]
public partial class TinyLlamaSp2Tp2;

/// <summary>The bundled tiny Qwen3 (per-head q/k norms before RoPE), specialised.</summary>
[Compile(typeof(Qwen3), Config = "Checkpoints/tiny-qwen3/config.json")]
public partial class TinyQwen3;

/// <summary>
/// The bundled tiny Gemma 2, specialised: its per-layer sliding windows (local and global layers) fold as a constant
/// table, its soft-caps and score scale as constants.
/// </summary>
[Compile(typeof(Gemma2), Config = "Checkpoints/tiny-gemma2/config.json")]
public partial class TinyGemma2;

/// <summary>The bundled tiny Qwen3-MoE folded into an expert x tensor hybrid, as TinyMixtralEp2Tp2 is.</summary>
[Compile(typeof(Qwen3Moe), Config = "Checkpoints/tiny-qwen3-moe/config.json", Expert = 2, Tensor = 2)]
public partial class TinyQwen3MoeEp2Tp2;
