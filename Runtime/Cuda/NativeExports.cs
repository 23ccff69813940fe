using System.Runtime.InteropServices;

namespace Tessera.Cuda;

/// <summary>
/// Looks up entry points in a loaded library. Binding every function when the library loads (rather than at first
/// call) means a library too old for us is reported once, as a reason, instead of failing in the middle of a run.
/// </summary>
internal static class NativeExports
{
    /// <summary>The first of <paramref name="names"/> that the library exports; the versioned name comes first so we
    /// get e.g. <c>cuMemAlloc_v2</c> (64-bit sizes) where the driver has it.</summary>
    /// <exception cref="EntryPointNotFoundException">None of the names is exported.</exception>
    public static IntPtr Require(IntPtr library, params string[] names)
    {
        foreach (var name in names)
        {
            if (NativeLibrary.TryGetExport(library, name, out var address)) return address;
        }
        throw new EntryPointNotFoundException($"entry point {string.Join(" / ", names)} not found");
    }

    /// <summary>The export, or zero when the library does not have it (an optional, newer function).</summary>
    public static IntPtr Optional(IntPtr library, string name) =>
        NativeLibrary.TryGetExport(library, name, out var address) ? address : IntPtr.Zero;

    /// <summary>A NUL-terminated UTF-8 string from native code, or null for a null pointer.</summary>
    public static unsafe string? Utf8(byte* text) => text == null ? null : Marshal.PtrToStringUTF8((IntPtr)text);
}
