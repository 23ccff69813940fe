namespace Tessera.Planning;

/// <summary>One accelerator, as the advisor prices plans on it.</summary>
/// <param name="Name">the catalogue name ("H100")</param>
/// <param name="MemoryBytes">device memory</param>
/// <param name="BandwidthBytesPerSecond">memory bandwidth</param>
/// <param name="Bf16Flops">dense BF16/FP16 tensor throughput, FLOP/s (FP16 where the GPU has no BF16 tensor cores)</param>
/// <param name="Fp32Flops">FP32 throughput, FLOP/s</param>
/// <param name="IntraNodeLink">the link between devices of one node</param>
/// <param name="InterNodeLink">the link between nodes (per device)</param>
/// <param name="Source">where the figures come from</param>
/// <param name="OverlapsComputeAndMemory">
/// whether a step's arithmetic hides its memory traffic (a GPU's thousands of threads: the step takes the longer of
/// the two) or adds to it (a CPU core does one then the other: the sum)
/// </param>
public sealed record DeviceSpec(string Name, long MemoryBytes, double BandwidthBytesPerSecond, double Bf16Flops, double Fp32Flops,
    LinkSpec IntraNodeLink, LinkSpec InterNodeLink, string Source, bool OverlapsComputeAndMemory = true)
{
    /// <summary>Throughput for a weight dtype: tensor cores for BF16/F16, the FP32 units for F32.</summary>
    public double FlopsFor(PlanDType dtype) => dtype == PlanDType.F32 ? Fp32Flops : Bf16Flops;
}
