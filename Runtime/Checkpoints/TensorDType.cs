namespace Tessera.Checkpoints;

/// <summary>Safetensors dtypes Tessera reads for weights. All are converted to F32 on load.</summary>
public enum TensorDType { F32, F16, BF16 }

internal static class TensorDTypes
{
    public static bool TryParse(string s, out TensorDType dtype)
    {
        switch (s)
        {
            case "F32": dtype = TensorDType.F32; return true;
            case "F16": dtype = TensorDType.F16; return true;
            case "BF16": dtype = TensorDType.BF16; return true;
            default: dtype = default; return false;
        }
    }

    public static int Size(TensorDType d) => d == TensorDType.F32 ? 4 : 2;

    /// <summary>Element sizes of dtypes we recognise but do not load as weights (kept to validate headers).</summary>
    public static int? OtherSize(string s) => s switch
    {
        "F64" or "I64" or "U64" => 8,
        "I32" or "U32" => 4,
        "I16" or "U16" => 2,
        "I8" or "U8" or "BOOL" or "F8_E4M3" or "F8_E5M2" => 1,
        _ => null,
    };
}
