namespace Tessera.Cuda;

/// <summary>
/// Whether this machine can run CUDA work, answered without throwing: libcuda loads, cuInit succeeds and at least one
/// device exists. The answer is computed once per process (cuInit is slow and its outcome does not change).
/// </summary>
public static class CudaProbe
{
    private static readonly Lazy<(IReadOnlyList<CudaDeviceInfo> Devices, string Reason)> Result = new(Probe);

    /// <summary>Every device the driver sees; empty when none is usable.</summary>
    public static IReadOnlyList<CudaDeviceInfo> Devices => Result.Value.Devices;

    /// <summary>True when a GPU is usable; otherwise <paramref name="reason"/> says why, e.g. "libcuda (the CUDA driver) not found (tried libcuda.so.1, libcuda.so)".</summary>
    public static bool TryGetDevice(out string reason) => TryGetDevice(out _, out reason);

    /// <summary>True with the first device when a GPU is usable; otherwise <paramref name="reason"/> says why.</summary>
    public static bool TryGetDevice(out CudaDeviceInfo? device, out string reason)
    {
        var (devices, why) = Result.Value;
        device = devices.Count > 0 ? devices[0] : null;
        reason = why;
        return device is not null;
    }

    private static (IReadOnlyList<CudaDeviceInfo>, string) Probe()
    {
        try
        {
            if (CudaDriverApi.TryGet(out var reason) is null) return ([], reason);
            var count = CudaDriver.DeviceCount();
            if (count == 0) return ([], "the CUDA driver reports no devices");
            return (Enumerable.Range(0, count).Select(CudaDriver.Describe).ToArray(), "");
        }
        catch (CudaException e)
        {
            return ([], e.Message);
        }
    }
}
