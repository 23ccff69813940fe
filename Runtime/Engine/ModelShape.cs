namespace Tessera;

/// <summary>The sizes of a model that callers need.</summary>
/// <param name="ModelName">The [Model] class name.</param>
/// <param name="VocabSize">V</param>
/// <param name="ContextLength">the most positions a sequence may have</param>
/// <param name="Layers">L</param>
/// <param name="Width">C, the residual width</param>
/// <param name="KvWidth">kvHeads * headDim</param>
public sealed record ModelShape(string ModelName, int VocabSize, int ContextLength, int Layers, int Width, int KvWidth);
