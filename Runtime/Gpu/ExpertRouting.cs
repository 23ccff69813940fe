using ILGPU;

namespace Tessera.Gpu;

/// <summary>
/// A router's decision on the device, as <see cref="Experts.ExpertRouter.Route"/> makes it: each row's k experts
/// (ascending ids) and their weights, (rows, k) each. The mixture reads it without the host looking at it.
/// </summary>
public readonly record struct ExpertRouting(ArrayView<int> Chosen, ArrayView<float> Weights, int Rows, int K);
