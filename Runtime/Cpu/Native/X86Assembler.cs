namespace Tessera.Cpu.Native;

/// <summary>A general-purpose x86-64 register, numbered as the encoding numbers it.</summary>
internal enum Gpr
{
    Rax, Rcx, Rdx, Rbx, Rsp, Rbp, Rsi, Rdi, R8, R9, R10, R11, R12, R13, R14, R15,
}

/// <summary>
/// Encodes the few x86-64 instructions the native BF16 kernel needs (<see cref="Bf16DotKernels"/>): .NET has no
/// intrinsic for AVX512-BF16's <c>vdpbf16ps</c>, so that kernel is assembled at start-up, as oneDNN's JIT kernels are.
/// </summary>
/// <remarks>
/// Memory operands are [base + index + disp] with the shortest displacement, as GNU as picks it (EVEX scales an 8-bit
/// one by the operand's size); rsp, rbp, r12 and r13 are refused as bases, which keeps the ModRM/SIB rules to the
/// plain case. X86AssemblerTests holds GNU as's bytes for each form.
/// </remarks>
internal sealed class X86Assembler
{
    private readonly List<byte> _code = [];

    /// <summary>The bytes so far.</summary>
    public byte[] ToArray() => [.. _code];

    /// <summary>Where the next instruction starts (a jump's target).</summary>
    public int Position => _code.Count;

    public void Push(Gpr r)
    {
        if ((int)r >= 8) _code.Add(0x41);
        _code.Add((byte)(0x50 + ((int)r & 7)));
    }

    public void Pop(Gpr r)
    {
        if ((int)r >= 8) _code.Add(0x41);
        _code.Add((byte)(0x58 + ((int)r & 7)));
    }

    public void Ret() => _code.Add(0xC3);

    /// <summary>vzeroupper: leaves no dirty upper halves behind for SSE code in the caller.</summary>
    public void Vzeroupper() => _code.AddRange([0xC5, 0xF8, 0x77]);

    /// <summary>mov dst, qword [base + disp]</summary>
    public void Load(Gpr dst, Gpr @base, int disp)
    {
        Rex(w: true, reg: (int)dst, index: 0, @base: (int)@base);
        _code.Add(0x8B);
        Memory((int)dst, @base, null, disp, scale: 1);
    }

    /// <summary>xor dst, dst (32-bit form: clears the whole register).</summary>
    public void Zero(Gpr dst)
    {
        if ((int)dst >= 8) _code.Add(0x45);
        _code.Add(0x31);
        _code.Add((byte)(0xC0 | (((int)dst & 7) << 3) | ((int)dst & 7)));
    }

    /// <summary>add dst, imm</summary>
    public void Add(Gpr dst, int imm)
    {
        Rex(w: true, reg: 0, index: 0, @base: (int)dst);
        bool small = imm is >= sbyte.MinValue and <= sbyte.MaxValue;
        _code.Add(small ? (byte)0x83 : (byte)0x81);
        _code.Add((byte)(0xC0 | ((int)dst & 7)));
        if (small) _code.Add((byte)imm);
        else Int32(imm);
    }

    /// <summary>cmp a, b</summary>
    public void Compare(Gpr a, Gpr b)
    {
        Rex(w: true, reg: (int)b, index: 0, @base: (int)a);
        _code.Add(0x39);
        _code.Add((byte)(0xC0 | (((int)b & 7) << 3) | ((int)a & 7)));
    }

    /// <summary>jb target (unsigned below), target an earlier <see cref="Position"/>.</summary>
    public void JumpIfBelow(int target)
    {
        _code.AddRange([0x0F, 0x82]);
        Int32(target - (_code.Count + 4));
    }

    /// <summary>vpxord zmm, zmm, zmm: a zeroed accumulator.</summary>
    public void ZeroZmm(int zmm) => Evex(map: 1, pp: 1, reg: zmm, vvvv: zmm, broadcast: false, opcode: 0xEF, rm: zmm);

    /// <summary>vmovups zmm, [base + disp]</summary>
    public void LoadZmm(int zmm, Gpr @base, int disp) => Evex(map: 1, pp: 0, reg: zmm, vvvv: 0, broadcast: false, opcode: 0x10, @base: @base, index: null, disp: disp, scale: 64);

    /// <summary>vmovups [base + disp], zmm</summary>
    public void StoreZmm(Gpr @base, int disp, int zmm) => Evex(map: 1, pp: 0, reg: zmm, vvvv: 0, broadcast: false, opcode: 0x11, @base: @base, index: null, disp: disp, scale: 64);

    /// <summary>vpbroadcastd zmm, dword [base + index]: the dword at the address in all 16 lanes.</summary>
    public void BroadcastDword(int zmm, Gpr @base, Gpr index) =>
        Evex(map: 2, pp: 1, reg: zmm, vvvv: 0, broadcast: false, opcode: 0x58, @base: @base, index: index, disp: 0, scale: 4);

    /// <summary>vdpbf16ps acc, x, w: per lane i, acc[i] += x.bf16[2i] · w.bf16[2i] + x.bf16[2i+1] · w.bf16[2i+1] (AVX512-BF16).</summary>
    public void DotBf16(int acc, int x, int w) => Evex(map: 2, pp: 2, reg: acc, vvvv: x, broadcast: false, opcode: 0x52, rm: w);

    /// <summary>
    /// vdpbf16ps acc, x, dword [base + index]{1to16}: per lane i, acc[i] += x.bf16[2i] · m.bf16[0] + x.bf16[2i+1] ·
    /// m.bf16[1], the pair at the address broadcast to all 16 lanes (AVX512-BF16).
    /// </summary>
    public void DotBf16Broadcast(int acc, int x, Gpr @base, Gpr index) =>
        Evex(map: 2, pp: 2, reg: acc, vvvv: x, broadcast: true, opcode: 0x52, @base: @base, index: index, disp: 0, scale: 4);

    /// <summary>An EVEX.512.W0 instruction with a register operand in ModRM.rm.</summary>
    private void Evex(int map, int pp, int reg, int vvvv, bool broadcast, int opcode, int rm)
    {
        EvexPrefix(map, pp, reg, vvvv, broadcast, x: (rm >> 4) & 1, b: (rm >> 3) & 1);
        _code.Add((byte)opcode);
        _code.Add((byte)(0xC0 | ((reg & 7) << 3) | (rm & 7)));
    }

    /// <summary>An EVEX.512.W0 instruction with a memory operand of <paramref name="scale"/> bytes (a disp8's unit).</summary>
    private void Evex(int map, int pp, int reg, int vvvv, bool broadcast, int opcode, Gpr @base, Gpr? index, int disp, int scale)
    {
        EvexPrefix(map, pp, reg, vvvv, broadcast, x: index is { } i ? ((int)i >> 3) & 1 : 0, b: ((int)@base >> 3) & 1);
        _code.Add((byte)opcode);
        Memory(reg, @base, index, disp, scale);
    }

    /// <summary>
    /// 62 P0 P1 P2. P0 = R X B R' 0 mmm, P1 = W vvvv 1 pp, P2 = z L'L b V' aaa; R, X, B, R', vvvv and V' are stored
    /// inverted. 512-bit (L'L = 10), W0, no masking.
    /// </summary>
    private void EvexPrefix(int map, int pp, int reg, int vvvv, bool broadcast, int x, int b)
    {
        int r = (reg >> 3) & 1, rPrime = (reg >> 4) & 1, vPrime = (vvvv >> 4) & 1;
        _code.Add(0x62);
        _code.Add((byte)(((r ^ 1) << 7) | ((x ^ 1) << 6) | ((b ^ 1) << 5) | ((rPrime ^ 1) << 4) | map));
        _code.Add((byte)((((~vvvv) & 0xF) << 3) | 0x04 | pp));
        _code.Add((byte)((0b10 << 5) | ((broadcast ? 1 : 0) << 4) | ((vPrime ^ 1) << 3)));
    }

    private void Rex(bool w, int reg, int index, int @base)
    {
        int rex = 0x40 | (w ? 8 : 0) | (((reg >> 3) & 1) << 2) | (((index >> 3) & 1) << 1) | ((@base >> 3) & 1);
        if (rex != 0x40) _code.Add((byte)rex);
    }

    /// <summary>
    /// ModRM (+ SIB when there is an index) and the displacement: none (mod 00), 8 bits in units of
    /// <paramref name="scale"/> (mod 01) or 32 bits (mod 10).
    /// </summary>
    private void Memory(int reg, Gpr @base, Gpr? index, int disp, int scale)
    {
        if (@base is Gpr.Rsp or Gpr.Rbp or Gpr.R12 or Gpr.R13)
            throw new ArgumentException($"{@base} needs a special encoding as a base; the kernel does not use it.", nameof(@base));
        if (index is Gpr.Rsp) throw new ArgumentException("rsp cannot be an index.", nameof(index));
        int mod = disp == 0 ? 0b00 : disp % scale == 0 && disp / scale is >= sbyte.MinValue and <= sbyte.MaxValue ? 0b01 : 0b10;
        int rm = index is null ? (int)@base & 7 : 0b100;
        _code.Add((byte)((mod << 6) | ((reg & 7) << 3) | rm));
        if (index is { } i) _code.Add((byte)((((int)i & 7) << 3) | ((int)@base & 7)));
        if (mod == 0b01) _code.Add((byte)(sbyte)(disp / scale));
        else if (mod == 0b10) Int32(disp);
    }

    private void Int32(int value)
    {
        _code.Add((byte)value);
        _code.Add((byte)(value >> 8));
        _code.Add((byte)(value >> 16));
        _code.Add((byte)(value >> 24));
    }
}
