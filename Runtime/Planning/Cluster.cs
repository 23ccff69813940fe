namespace Tessera.Planning;

/// <summary>The devices a plan runs on: how many, which kind, and how many share a node (and its fast link).</summary>
/// <param name="Device">each device</param>
/// <param name="Devices">how many</param>
/// <param name="DevicesPerNode">devices per node: groups within a node use the device's intra-node link, others the inter-node one</param>
/// <param name="UsableMemoryFraction">the share of a device's memory a plan may use (the rest: runtime context, allocator slack)</param>
public sealed record Cluster(DeviceSpec Device, int Devices, int DevicesPerNode, double UsableMemoryFraction = 0.9)
{
    public long UsableMemoryBytes => (long)(Device.MemoryBytes * UsableMemoryFraction);
}
