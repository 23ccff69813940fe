using ILGPU;

namespace Tessera.Gpu;

/// <summary>
/// How one attention launch covers its contexts: a group per (row, kv head, split), each split walking
/// <see cref="Chunk"/> positions (flash-decoding: a long context in decode is spread over many groups, so the GPU
/// is busy even with one row and a few kv heads). With one split the kernel writes the output itself; with several,
/// each split leaves its unnormalised sums and statistics in <see cref="Partials"/> and
/// <see cref="GpuStage.CombineAttention"/> merges them.
/// </summary>
/// <param name="Config">grid (rows, kv heads, splits), group, dynamic shared memory</param>
/// <param name="Chunk">positions per split (a multiple of the group size)</param>
/// <param name="Partials">per (row, kv head, split): group x headDim sums, then group maxima, then group sums</param>
public readonly record struct AttentionLaunch(KernelConfig Config, int Splits, int Chunk, ArrayView<float> Partials, int Rows, int KvHeads, int Group, int HeadDim);
