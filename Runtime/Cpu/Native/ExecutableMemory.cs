using System.Runtime.InteropServices;

namespace Tessera.Cpu.Native;

/// <summary>Pages holding machine code assembled at run time: written once, then made read + execute (never both).</summary>
internal static unsafe class ExecutableMemory
{
    private const int ProtRead = 1, ProtWrite = 2, ProtExec = 4;
    private const int MapPrivate = 0x02, MapAnonymous = 0x20; // Linux values

    /// <summary>
    /// The code copied into fresh pages that are then made executable, or null where this OS is not Linux or refuses
    /// (a policy forbidding executable mappings): callers fall back to their managed kernels. The pages live as long
    /// as the process.
    /// </summary>
    public static nint? TryMap(ReadOnlySpan<byte> code)
    {
        if (!OperatingSystem.IsLinux() || code.IsEmpty) return null;
        nuint size = (nuint)((code.Length + 4095) & ~4095);
        nint pages = mmap(0, size, ProtRead | ProtWrite, MapPrivate | MapAnonymous, -1, 0);
        if (pages == -1) return null;
        code.CopyTo(new Span<byte>((void*)pages, code.Length));
        if (mprotect(pages, size, ProtRead | ProtExec) != 0)
        {
            munmap(pages, size);
            return null;
        }
        return pages;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern nint mmap(nint address, nuint length, int protection, int flags, int fd, nint offset);

    [DllImport("libc", SetLastError = true)]
    private static extern int mprotect(nint address, nuint length, int protection);

    [DllImport("libc", SetLastError = true)]
    private static extern int munmap(nint address, nuint length);
}
