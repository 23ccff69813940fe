namespace Tessera.Cpu;

/// <summary>
/// Element-wise work fused into a matrix product: called on each finished output segment
/// <c>y[row, column .. column + segment.Length)</c> while it is still in cache. Generated code supplies these
/// (bias, activation, residual add, gating), so a chain of element-wise ops costs no extra pass over memory.
/// </summary>
public delegate void Epilogue(Span<float> segment, int row, int column);
