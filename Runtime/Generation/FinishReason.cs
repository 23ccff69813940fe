namespace Tessera.Generation;

/// <summary>Why a generation ended (OpenAI's finish_reason: <see cref="Stop"/> is "stop", the others "length").</summary>
public enum FinishReason
{
    /// <summary>A stop token was generated or a stop string appeared.</summary>
    Stop,

    /// <summary>The request's max tokens were generated.</summary>
    MaxTokens,

    /// <summary>The model's context is full: the last token cannot be fed back.</summary>
    ContextFull,
}
