using System.Globalization;

namespace Tessera.Cuda;

/// <summary>C literals for generated CUDA programs.</summary>
public static class CudaLiterals
{
    /// <summary>A float literal C accepts: always with a decimal point or exponent ("10000.0f"; C has no "10000f").</summary>
    public static string Float(float value)
    {
        string text = value.ToString("R", CultureInfo.InvariantCulture);
        if (text.IndexOfAny(['.', 'E', 'e']) < 0) text += ".0";
        return text + "f";
    }
}
