using Tessera.Cpu.Native;

namespace Tessera.Runtime.Tests.Cpu;

/// <summary>The native kernel's encoder writes what GNU as 2.x writes for the same instructions (bytes from objdump).</summary>
public sealed class X86AssemblerTests
{
    /// <summary>Each instruction as GNU as's listing writes it, its bytes there, and the encoder's call.</summary>
    private static readonly (string Instruction, string Bytes, Action<X86Assembler> Emit)[] Listing =
    [
        ("push rbx", "53", a => a.Push(Gpr.Rbx)),
        ("push r12", "41 54", a => a.Push(Gpr.R12)),
        ("pop rbx", "5b", a => a.Pop(Gpr.Rbx)),
        ("pop r12", "41 5c", a => a.Pop(Gpr.R12)),
        ("ret", "c3", a => a.Ret()),
        ("vzeroupper", "c5 f8 77", a => a.Vzeroupper()),
        ("mov r8, [rdi]", "4c 8b 07", a => a.Load(Gpr.R8, Gpr.Rdi, 0)),
        ("mov rax, [rdi+0x28]", "48 8b 47 28", a => a.Load(Gpr.Rax, Gpr.Rdi, 0x28)),
        ("mov r11, [r9+0x40]", "4d 8b 59 40", a => a.Load(Gpr.R11, Gpr.R9, 0x40)),
        ("xor ecx, ecx", "31 c9", a => a.Zero(Gpr.Rcx)),
        ("xor r10d, r10d", "45 31 d2", a => a.Zero(Gpr.R10)),
        ("add rsi, 0x200", "48 81 c6 00 02 00 00", a => a.Add(Gpr.Rsi, 512)),
        ("add r9, 4", "49 83 c1 04", a => a.Add(Gpr.R9, 4)),
        ("cmp rcx, rdx", "48 39 d1", a => a.Compare(Gpr.Rcx, Gpr.Rdx)),
        ("cmp r10, r11", "4d 39 da", a => a.Compare(Gpr.R10, Gpr.R11)),
        ("vpxord zmm0, zmm0, zmm0", "62 f1 7d 48 ef c0", a => a.ZeroZmm(0)),
        ("vpxord zmm23, zmm23, zmm23", "62 a1 45 40 ef ff", a => a.ZeroZmm(23)),
        ("vpxord zmm9, zmm9, zmm9", "62 51 35 48 ef c9", a => a.ZeroZmm(9)),
        ("vmovups zmm24, [rsi+0x40]", "62 61 7c 48 10 46 01", a => a.LoadZmm(24, Gpr.Rsi, 0x40)),
        ("vmovups zmm3, [r8+0x100]", "62 d1 7c 48 10 58 04", a => a.LoadZmm(3, Gpr.R8, 0x100)),
        ("vmovups [rdx+0x5c0], zmm22", "62 e1 7c 48 11 72 17", a => a.StoreZmm(Gpr.Rdx, 0x5c0, 22)),
        ("vmovups [r11], zmm7", "62 d1 7c 48 11 3b", a => a.StoreZmm(Gpr.R11, 0, 7)),
        ("vdpbf16ps zmm0, zmm24, [r8+rcx]{1to16}", "62 d2 3e 50 52 04 08", a => a.DotBf16Broadcast(0, 24, Gpr.R8, Gpr.Rcx)),
        ("vdpbf16ps zmm23, zmm31, [rbx+r9]{1to16}", "62 a2 06 50 52 3c 0b", a => a.DotBf16Broadcast(23, 31, Gpr.Rbx, Gpr.R9)),
        ("vdpbf16ps zmm10, zmm5, [rax+rcx]{1to16}", "62 72 56 58 52 14 08", a => a.DotBf16Broadcast(10, 5, Gpr.Rax, Gpr.Rcx)),
        ("vdpbf16ps zmm17, zmm28, [r11+r14]{1to16}", "62 82 1e 50 52 0c 33", a => a.DotBf16Broadcast(17, 28, Gpr.R11, Gpr.R14)),
        ("vpbroadcastd zmm24, [r8+rcx]", "62 42 7d 48 58 04 08", a => a.BroadcastDword(24, Gpr.R8, Gpr.Rcx)),
        ("vpbroadcastd zmm29, [rbx+rcx]", "62 62 7d 48 58 2c 0b", a => a.BroadcastDword(29, Gpr.Rbx, Gpr.Rcx)),
        ("vpbroadcastd zmm26, [rax+rcx]", "62 62 7d 48 58 14 08", a => a.BroadcastDword(26, Gpr.Rax, Gpr.Rcx)),
        ("vdpbf16ps zmm0, zmm30, zmm24", "62 92 0e 40 52 c0", a => a.DotBf16(0, 30, 24)),
        ("vdpbf16ps zmm23, zmm31, zmm29", "62 82 06 40 52 fd", a => a.DotBf16(23, 31, 29)),
        ("vdpbf16ps zmm10, zmm5, zmm3", "62 72 56 48 52 d3", a => a.DotBf16(10, 5, 3)),
    ];

    public static TheoryData<string> Instructions() => new(Listing.Select(l => l.Instruction));

    [Theory]
    [MemberData(nameof(Instructions))]
    public void Encodes_AsGnuAsDoes(string instruction)
    {
        var (_, bytes, emit) = Listing.Single(l => l.Instruction == instruction);
        var assembler = new X86Assembler();
        emit(assembler);
        Assert.Equal(bytes, string.Join(' ', assembler.ToArray().Select(b => b.ToString("x2"))));
    }

    [Fact]
    public void JumpIfBelow_CountsFromTheEndOfTheJump()
    {
        var assembler = new X86Assembler();
        int loop = assembler.Position;
        assembler.Add(Gpr.Rcx, 4); // 4 bytes
        assembler.JumpIfBelow(loop); // the rel32 form (0f 82), 6 bytes: back 10
        Assert.Equal("48 83 c1 04 0f 82 f6 ff ff ff", string.Join(' ', assembler.ToArray().Select(b => b.ToString("x2"))));
    }

    [Fact]
    public void RefusesBasesThatNeedAnotherEncoding()
    {
        Assert.Throws<ArgumentException>(() => new X86Assembler().Load(Gpr.Rax, Gpr.Rbp, 8));
        Assert.Throws<ArgumentException>(() => new X86Assembler().LoadZmm(0, Gpr.R12, 0));
    }
}
