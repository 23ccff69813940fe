namespace Tessera.Runtime.Tests.Cuda;

/// <summary>
/// A fact that needs NVRTC (no GPU): skipped, with the reason, where NVRTC cannot be loaded. xunit 2 has no dynamic
/// skip, so the attribute decides when the runner discovers the test.
/// </summary>
public sealed class NvrtcFactAttribute : FactAttribute
{
    public NvrtcFactAttribute()
    {
        // CI sets TESSERA_REQUIRE_NVRTC=1 after fetching NVRTC: there a missing compiler must fail, not skip.
        if (TestNvrtc.SkipReason is { } reason && Environment.GetEnvironmentVariable("TESSERA_REQUIRE_NVRTC") != "1") Skip = reason;
    }
}
