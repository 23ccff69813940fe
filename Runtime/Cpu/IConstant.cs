namespace Tessera.Cpu;

/// <summary>
/// A compile-time integer for kernel variants. A generic method over a struct implementing it is compiled once per
/// value, with the value folded in, so one source gives 1-, 2-, 3- and 4-vector micro-kernels without branches.
/// </summary>
internal interface IConstant
{
    static abstract int Value { get; }
}

internal readonly struct One : IConstant { public static int Value => 1; }

internal readonly struct Two : IConstant { public static int Value => 2; }

internal readonly struct Three : IConstant { public static int Value => 3; }

internal readonly struct Four : IConstant { public static int Value => 4; }
