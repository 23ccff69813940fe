namespace Tessera.Checkpoints;

/// <summary>A checkpoint (config.json or safetensors) that does not fit the compiled model. The message says what and where.</summary>
public sealed class CheckpointException(string message, Exception? inner = null) : Exception(message, inner);
