namespace Tessera.Models;

/// <summary>The bundled tiny Llama, compiled with its sizes folded as constants (read from its config at build time).</summary>
[Compile(typeof(Llama), Config = "Checkpoints/tiny-llama/config.json")]
public partial class TinyLlama;

/// <summary>The bundled tiny GPT-2, specialised the same way.</summary>
[Compile(typeof(Gpt2), Config = "Checkpoints/tiny-gpt2/config.json")]
public partial class TinyGpt2;
