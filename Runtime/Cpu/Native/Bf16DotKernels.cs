using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Cpu.Native;

/// <summary>
/// The BF16 GEMM's micro-kernel on AVX512-BF16: <c>vdpbf16ps</c> multiplies pairs of BF16 values and adds both
/// products to F32 lanes, so BF16 weights are multiplied as stored, with no widening pass. .NET has no intrinsic for
/// it, so the kernel is assembled once per process (<see cref="X86Assembler"/>) into executable pages.
/// </summary>
/// <remarks>
/// <para>
/// Shape: the F32 GEMM's, 6 weight rows (columns of y) x 64 rows of x, over one K pass. Weights are (N, K) with K
/// contiguous, so the pair (w[j, 2p], w[j, 2p+1]) is one dword: it is the instruction's broadcast memory operand, read
/// straight from the weight matrix. x is packed per pair p as 64 dwords (x[t, 2p], x[t, 2p+1]) in BF16.
/// </para>
/// <para>
/// Accuracy: x is not rounded to BF16. Each value is split into hi = bf16(x) and lo = bf16(x - hi), packed as two
/// 64-row halves per pair, and both are multiplied: x·w = hi·w + lo·w keeps 16 significant bits of x (|x - hi - lo| ≤ 2^-16 |x|),
/// so the product is that of F32 activations with the rounded weights (each BF16 x BF16 product is exact in F32, sums accumulate in
/// F32) — what the widening kernels compute, to the order of summation. Rounding x to BF16 alone would halve the work
/// but move a tiny Llama's logits by 1.2e-2 (against 1e-2 allowed). The instruction treats BF16 denormals (below
/// 1.2e-38) as zero.
/// </para>
/// <para>
/// Registers: accumulators zmm0-23 (6 rows x 4 vectors of 16 rows), x hi halves zmm24-27, lo halves zmm28-31; weight
/// row pointers r8-r11, rax, rbx (rbx saved), pair offset rcx, x pointer rsi. System V calling convention: one
/// argument, the <see cref="Arguments"/> pointer, in rdi; Linux x64 only.
/// </para>
/// </remarks>
internal static unsafe class Bf16DotKernels
{
    /// <summary>Rows of x a kernel call covers, and the rows of y it leaves in the block (the F32 GEMM's tile).</summary>
    public const int Rows = 64;

    /// <summary>Weight rows (columns of y) per call.</summary>
    public const int Columns = 6;

    /// <summary>Dwords per packed pair: 64 hi pairs, then 64 lo pairs.</summary>
    public const int PairStride = 2 * Rows;

    /// <summary>What a kernel call reads and writes; the layout the machine code reads at fixed offsets.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Arguments
    {
        /// <summary>Weight rows j .. j+5 at the pass's first pair (a short block repeats a row).</summary>
        public ushort* W0, W1, W2, W3, W4, W5;

        /// <summary>The packed x tile at the pass's first pair.</summary>
        public uint* X;

        /// <summary>The pass's pairs x 4 (the byte offset the loop runs to); at least 4.</summary>
        public long PairBytes;

        /// <summary>Out: block[c * 64 + t] for c &lt; 6 and the kernel's 16 · vectors rows t.</summary>
        public float* Block;
    }

    /// <summary>The registers holding the 6 weight rows' pointers (declared before <see cref="Kernels"/>, which uses it).</summary>
    private static readonly Gpr[] WeightRows = [Gpr.R8, Gpr.R9, Gpr.R10, Gpr.R11, Gpr.Rax, Gpr.Rbx];

    private static readonly nint[]? Kernels = Assemble();

    /// <summary>Whether this CPU and OS run the kernels (AVX512-BF16, Linux x64, executable pages granted).</summary>
    public static bool IsSupported => Kernels is not null;

    /// <summary>Runs the kernel for the first 16 · <paramref name="vectors"/> rows (1 to 4) of the packed tile.</summary>
    public static void Run(int vectors, Arguments* arguments)
    {
        // No GC transition: a call is a few microseconds of arithmetic that never blocks or calls back.
        var kernel = (delegate* unmanaged[SuppressGCTransition]<Arguments*, void>)Kernels![vectors - 1];
        kernel(arguments);
    }

    /// <summary>CPUID leaf 7, sub-leaf 1, EAX bit 5: AVX512_BF16 (Avx512F.IsSupported covers the OS saving zmm state).</summary>
    private static bool CpuHasAvx512Bf16() =>
        Avx512F.IsSupported && X86Base.CpuId(7, 0).Eax >= 1 && (X86Base.CpuId(7, 1).Eax & (1 << 5)) != 0;

    private static nint[]? Assemble()
    {
        if (!CpuHasAvx512Bf16() || !OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64) return null;
        var kernels = new nint[4];
        for (int vectors = 1; vectors <= 4; vectors++)
        {
            if (ExecutableMemory.TryMap(Kernel(vectors)) is not { } code) return null;
            kernels[vectors - 1] = code;
        }
        return kernels;
    }

    private static int Accumulator(int column, int vector) => column * 4 + vector;

    /// <summary>The machine code for <paramref name="vectors"/> vectors of 16 rows.</summary>
    internal static byte[] Kernel(int vectors)
    {
        var a = new X86Assembler();
        a.Push(Gpr.Rbx);
        for (int c = 0; c < Columns; c++) a.Load(WeightRows[c], Gpr.Rdi, 8 * c);
        a.Load(Gpr.Rsi, Gpr.Rdi, (int)Marshal.OffsetOf<Arguments>(nameof(Arguments.X)));
        a.Load(Gpr.Rdx, Gpr.Rdi, (int)Marshal.OffsetOf<Arguments>(nameof(Arguments.PairBytes)));
        a.Zero(Gpr.Rcx);
        for (int c = 0; c < Columns; c++)
            for (int v = 0; v < vectors; v++) a.ZeroZmm(Accumulator(c, v));

        // Per pair: the 6 weight pairs broadcast into zmm24-29, then per vector of 16 rows its hi and lo halves
        // (zmm30, zmm31) times each of them.
        int loop = a.Position;
        for (int c = 0; c < Columns; c++) a.BroadcastDword(24 + c, WeightRows[c], Gpr.Rcx);
        for (int v = 0; v < vectors; v++)
        {
            a.LoadZmm(30, Gpr.Rsi, 64 * v);
            a.LoadZmm(31, Gpr.Rsi, 4 * Rows + 64 * v);
            for (int c = 0; c < Columns; c++) a.DotBf16(Accumulator(c, v), 30, 24 + c);
            for (int c = 0; c < Columns; c++) a.DotBf16(Accumulator(c, v), 31, 24 + c);
        }
        a.Add(Gpr.Rsi, 4 * PairStride);
        a.Add(Gpr.Rcx, 4);
        a.Compare(Gpr.Rcx, Gpr.Rdx);
        a.JumpIfBelow(loop);

        a.Load(Gpr.Rdx, Gpr.Rdi, (int)Marshal.OffsetOf<Arguments>(nameof(Arguments.Block)));
        for (int c = 0; c < Columns; c++)
            for (int v = 0; v < vectors; v++) a.StoreZmm(Gpr.Rdx, 4 * (c * Rows + 16 * v), Accumulator(c, v));
        a.Pop(Gpr.Rbx);
        a.Vzeroupper();
        a.Ret();
        return a.ToArray();
    }
}
