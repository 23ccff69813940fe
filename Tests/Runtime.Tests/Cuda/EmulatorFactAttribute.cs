using Tessera.Cuda;

namespace Tessera.Runtime.Tests.Cuda;

/// <summary>A fact that runs on the CUDA emulator (needs g++ on Linux x86-64): skipped, with the reason, elsewhere.</summary>
public sealed class EmulatorFactAttribute : FactAttribute
{
    public EmulatorFactAttribute()
    {
        // CI installs nothing for the emulator but g++, which the machine has: there a missing compiler must fail.
        if (!CudaContext.CanEmulate(out var reason) && Environment.GetEnvironmentVariable("TESSERA_REQUIRE_EMULATOR") != "1")
            Skip = $"no CUDA emulator: {reason}";
    }
}
