namespace Tessera.Cuda;

/// <summary>Process-wide driver state: cuInit once, and device queries shared by <see cref="CudaProbe"/> and <see cref="CudaContext"/>.</summary>
internal static unsafe class CudaDriver
{
    private const int AttributeMultiprocessorCount = 16;  // CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT
    private const int AttributeComputeMajor = 75;         // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
    private const int AttributeComputeMinor = 76;         // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR

    private static readonly Lazy<CudaException?> InitError = new(() =>
    {
        try
        {
            var api = CudaDriverApi.Get();
            api.Check(api.Init(0), "cuInit");
            return null;
        }
        catch (CudaException e)
        {
            return e;
        }
    });

    /// <summary>The loaded driver, initialised; cuInit's failure is remembered and rethrown, as the driver would repeat it anyway.</summary>
    public static CudaDriverApi Initialized()
    {
        if (InitError.Value is { } error) throw error.Repeat();
        return CudaDriverApi.Get();
    }

    /// <summary>How many devices the driver sees.</summary>
    public static int DeviceCount()
    {
        var api = Initialized();
        int count;
        api.Check(api.DeviceGetCount(&count), "cuDeviceGetCount");
        return count;
    }

    /// <summary>Name, memory and compute capability of device <paramref name="ordinal"/>.</summary>
    public static CudaDeviceInfo Describe(int ordinal)
    {
        var api = Initialized();
        int device, major, minor, sms;
        nuint bytes;
        api.Check(api.DeviceGet(&device, ordinal), "cuDeviceGet");
        byte* name = stackalloc byte[256];
        api.Check(api.DeviceGetName(name, 256, device), "cuDeviceGetName");
        api.Check(api.DeviceTotalMem(&bytes, device), "cuDeviceTotalMem_v2");
        api.Check(api.DeviceGetAttribute(&major, AttributeComputeMajor, device), "cuDeviceGetAttribute");
        api.Check(api.DeviceGetAttribute(&minor, AttributeComputeMinor, device), "cuDeviceGetAttribute");
        api.Check(api.DeviceGetAttribute(&sms, AttributeMultiprocessorCount, device), "cuDeviceGetAttribute");
        return new CudaDeviceInfo(ordinal, NativeExports.Utf8(name) ?? "", (long)bytes, major, minor, sms);
    }
}
