namespace Tessera.Planning;

/// <summary>A number format a plan's weights or KV cache are held in, for planning (the CPU engine runs F32 and BF16 weights).</summary>
public enum PlanDType
{
    F32,
    BF16,
    F16,
}
