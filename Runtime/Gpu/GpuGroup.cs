using ILGPU;

namespace Tessera.Gpu;

/// <summary>
/// Reductions over a thread group, called from kernels (ILGPU inlines them): a warp reduces with shuffles, the warps'
/// partials meet in shared memory, and every thread adds them in the same order, so every thread of the group gets
/// the same value. Written for any warp size (32 on CUDA, 2 on the CPU accelerator) and any power-of-two group.
/// </summary>
public static class GpuGroup
{
    /// <summary>Most warps a group can have (<see cref="GpuDevice.MaxBlock"/> threads in warps of the CPU accelerator's size).</summary>
    private const int MaxWarps = GpuDevice.MaxBlock / GpuDevice.CpuWarp;

    /// <summary>The sum of <paramref name="value"/> over the group, in every thread. Every thread must call it.</summary>
    public static float Sum(float value)
    {
        var partials = SharedMemory.Allocate<float>(MaxWarps);
        for (int offset = Warp.WarpSize / 2; offset > 0; offset /= 2) value += Warp.ShuffleDown(value, offset);
        if (Warp.LaneIdx == 0) partials[Warp.WarpIdx] = value;
        Group.Barrier();
        float total = 0.0f;
        int warps = (Group.DimX + Warp.WarpSize - 1) / Warp.WarpSize;
        for (int w = 0; w < warps; w++) total += partials[w];
        Group.Barrier(); // the partials may be written again by the next reduction
        return total;
    }

    /// <summary>The maximum of <paramref name="value"/> over the group, in every thread. Every thread must call it.</summary>
    public static float Max(float value)
    {
        var partials = SharedMemory.Allocate<float>(MaxWarps);
        for (int offset = Warp.WarpSize / 2; offset > 0; offset /= 2) value = Math.Max(value, Warp.ShuffleDown(value, offset));
        if (Warp.LaneIdx == 0) partials[Warp.WarpIdx] = value;
        Group.Barrier();
        float total = float.NegativeInfinity;
        int warps = (Group.DimX + Warp.WarpSize - 1) / Warp.WarpSize;
        for (int w = 0; w < warps; w++) total = Math.Max(total, partials[w]);
        Group.Barrier();
        return total;
    }

    /// <summary>The sum of <paramref name="value"/> over a warp, in every lane (a butterfly of shuffles).</summary>
    public static float WarpSum(float value)
    {
        for (int offset = Warp.WarpSize / 2; offset > 0; offset /= 2) value += Warp.ShuffleXor(value, offset);
        return value;
    }
}
