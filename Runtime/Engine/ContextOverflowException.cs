namespace Tessera;

/// <summary>A prompt (plus generated tokens) longer than the model's context.</summary>
public sealed class ContextOverflowException(long needed, int capacity)
    : InvalidOperationException($"The sequence needs {needed} positions but the model's context holds {capacity} (max_position_embeddings).")
{
    public long Needed { get; } = needed;
    public int Capacity { get; } = capacity;
}
