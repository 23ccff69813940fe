namespace Tessera.Runtime.Tests.Cuda;

/// <summary>
/// A fact that needs NVRTC (no GPU): skipped, with the reason, where NVRTC cannot be loaded. xunit 2 has no dynamic
/// skip, so the attribute decides when the runner discovers the test.
/// </summary>
public sealed class NvrtcFactAttribute : FactAttribute
{
    public NvrtcFactAttribute()
    {
        if (TestNvrtc.SkipReason is { } reason) Skip = reason;
    }
}
