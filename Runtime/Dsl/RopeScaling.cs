namespace Tessera;

/// <summary>The kinds of RoPE frequency scaling Tessera implements (Hugging Face's <c>rope_scaling.rope_type</c>).</summary>
public enum RopeScalingKind
{
    /// <summary>Plain RoPE: inv_j = θ^(-2j/d).</summary>
    None,

    /// <summary>Position interpolation: every frequency divided by the factor.</summary>
    Linear,

    /// <summary>Llama 3.1: low frequencies divided by the factor, high ones kept, a smooth blend between.</summary>
    Llama3,

    /// <summary>YaRN: frequencies blended between interpolated and kept by a ramp over the dimensions; cos/sin scaled.</summary>
    Yarn,
}

/// <summary>
/// How a model's RoPE frequencies are scaled for a longer context, as Hugging Face's <c>modeling_rope_utils.py</c>
/// computes them (<c>_compute_linear_scaling_rope_parameters</c>, <c>_compute_llama3_parameters</c>,
/// <c>_compute_yarn_parameters</c>). A [Config] field of this type binds the config's <c>rope_scaling</c> object; the
/// Rope op and both back ends' RoPE tables take it. A value, so equal settings share one cos/sin table.
/// </summary>
/// <param name="Kind">the scaling</param>
/// <param name="Factor">the context extension (linear, llama3, yarn)</param>
/// <param name="LowFrequencyFactor">llama3: wavelengths above original / this are divided by the factor</param>
/// <param name="HighFrequencyFactor">llama3: wavelengths below original / this are kept</param>
/// <param name="OriginalContext">llama3 and yarn: the context the model was trained with (original_max_position_embeddings)</param>
/// <param name="BetaFast">yarn: rotations past which a dimension is extrapolated (kept)</param>
/// <param name="BetaSlow">yarn: rotations below which a dimension is interpolated (divided by the factor)</param>
/// <param name="AttentionFactor">yarn: the scale of cos and sin (1 for the others)</param>
/// <param name="Truncate">yarn: whether the ramp's ends are rounded to whole dimensions</param>
public sealed record RopeScaling(
    RopeScalingKind Kind, double Factor = 1, double LowFrequencyFactor = 0, double HighFrequencyFactor = 0, double OriginalContext = 0,
    double BetaFast = 32, double BetaSlow = 1, double AttentionFactor = 1, bool Truncate = true)
{
    /// <summary>No scaling.</summary>
    public static RopeScaling None { get; } = new(RopeScalingKind.None);

    /// <summary>Linear position interpolation by <paramref name="factor"/>.</summary>
    public static RopeScaling Linear(double factor) => new(RopeScalingKind.Linear, factor);

    /// <summary>Llama 3.1's scaling.</summary>
    public static RopeScaling Llama3(double factor, double lowFrequencyFactor, double highFrequencyFactor, double originalContext) =>
        new(RopeScalingKind.Llama3, factor, lowFrequencyFactor, highFrequencyFactor, originalContext);

    /// <summary>
    /// YaRN, with its attention factor as Hugging Face derives it when the config gives none: mscale / mscale_all_dim
    /// when both are set, else 0.1 ln(factor) + 1 (1 when the factor is at most 1).
    /// </summary>
    public static RopeScaling Yarn(double factor, double originalContext, double? attentionFactor = null, double betaFast = 32, double betaSlow = 1,
        double? mscale = null, double? mscaleAllDim = null, bool truncate = true)
    {
        static double MScale(double scale, double m) => scale <= 1 ? 1.0 : 0.1 * m * Math.Log(scale) + 1.0;
        double attention = attentionFactor
            ?? (mscale is { } m && m != 0 && mscaleAllDim is { } all && all != 0 ? MScale(factor, m) / MScale(factor, all) : MScale(factor, 1));
        return new RopeScaling(RopeScalingKind.Yarn, factor, OriginalContext: originalContext, BetaFast: betaFast, BetaSlow: betaSlow,
            AttentionFactor: attention, Truncate: truncate);
    }

    /// <summary>
    /// The inverse frequencies of the <paramref name="rotaryDim"/> / 2 rotated pairs of a head, in double:
    /// θ^(-2j / rotaryDim), then scaled as <see cref="Kind"/> says.
    /// </summary>
    public double[] InverseFrequencies(int rotaryDim, double theta)
    {
        int half = rotaryDim / 2;
        var inv = new double[half];
        for (int j = 0; j < half; j++) inv[j] = Math.Pow(theta, -2.0 * j / rotaryDim);
        switch (Kind)
        {
            case RopeScalingKind.Linear:
                for (int j = 0; j < half; j++) inv[j] /= Factor;
                break;
            case RopeScalingKind.Llama3:
                {
                    double lowWavelength = OriginalContext / LowFrequencyFactor, highWavelength = OriginalContext / HighFrequencyFactor;
                    for (int j = 0; j < half; j++)
                    {
                        double wavelength = 2 * Math.PI / inv[j];
                        if (wavelength < highWavelength) continue;
                        if (wavelength > lowWavelength)
                        {
                            inv[j] /= Factor;
                            continue;
                        }
                        double smooth = (OriginalContext / wavelength - LowFrequencyFactor) / (HighFrequencyFactor - LowFrequencyFactor);
                        inv[j] = (1 - smooth) * inv[j] / Factor + smooth * inv[j];
                    }
                    break;
                }
            case RopeScalingKind.Yarn:
                {
                    // The dimensions turning fewer than BetaSlow times over the original context are interpolated, those
                    // turning more than BetaFast times kept, with a linear ramp between (HF find_correction_range).
                    double CorrectionDim(double rotations) =>
                        rotaryDim * Math.Log(OriginalContext / (rotations * 2 * Math.PI)) / (2 * Math.Log(theta));
                    double low = CorrectionDim(BetaFast), high = CorrectionDim(BetaSlow);
                    if (Truncate)
                    {
                        low = Math.Floor(low);
                        high = Math.Ceiling(high);
                    }
                    low = Math.Max(low, 0);
                    high = Math.Min(high, rotaryDim - 1);
                    if (low == high) high += 0.001;
                    for (int j = 0; j < half; j++)
                    {
                        double ramp = Math.Clamp((j - low) / (high - low), 0, 1);
                        double extrapolation = 1 - ramp;
                        inv[j] = inv[j] / Factor * (1 - extrapolation) + inv[j] * extrapolation;
                    }
                    break;
                }
        }
        return inv;
    }

    /// <summary>What the scaling is, for messages and generated comments.</summary>
    public override string ToString() => Kind switch
    {
        RopeScalingKind.None => "none",
        RopeScalingKind.Linear => FormattableString.Invariant($"linear (factor {Factor})"),
        RopeScalingKind.Llama3 => FormattableString.Invariant($"llama3 (factor {Factor}, low {LowFrequencyFactor}, high {HighFrequencyFactor}, original context {OriginalContext})"),
        _ => FormattableString.Invariant($"yarn (factor {Factor}, original context {OriginalContext}, beta {BetaFast}/{BetaSlow}, attention factor {AttentionFactor})"),
    };
}
