using System.Globalization;

namespace Tessera.Planning;

/// <summary>
/// How a plan's weights are priced: a name for reports and the bytes one parameter takes (blocks and scales counted).
/// A <see cref="PlanDType"/> converts to one; a GGUF file's own mix of types is priced by what it holds
/// (<see cref="Stored"/>).
/// </summary>
/// <param name="Name">"F32", "Q4_K_M", or "the GGUF file's types (4.87 bits per weight)"</param>
/// <param name="BytesPerParameter">the model's weight bytes over its parameters</param>
public sealed record WeightFormat(string Name, double BytesPerParameter)
{
    public static implicit operator WeightFormat(PlanDType dtype) => new(dtype.ToString(), MemoryEstimate.BytesOf(dtype));

    /// <summary>A file's weights as stored: its tensors' bytes over their values.</summary>
    public static WeightFormat Stored(string kind, long bytes, long parameters)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(parameters);
        double perParameter = (double)bytes / parameters;
        return new WeightFormat(string.Create(CultureInfo.InvariantCulture, $"the {kind} file's types ({perParameter * 8:0.##} bits per weight)"), perParameter);
    }

    public override string ToString() => Name;
}
