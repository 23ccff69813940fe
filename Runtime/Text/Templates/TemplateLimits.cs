namespace Tessera.Text.Templates;

/// <summary>
/// Bounds on one render, so that a hostile or broken checkpoint template cannot hang or exhaust the server: a template
/// that passes one fails with a <see cref="TemplateException"/>.
/// </summary>
public sealed record TemplateLimits
{
    /// <summary>Limits generous for any real chat template (a long conversation with many tools renders in far less).</summary>
    public static readonly TemplateLimits Default = new();

    /// <summary>Most characters of output, and of any one string the template builds.</summary>
    public int MaxOutputChars { get; init; } = 16 << 20;

    /// <summary>Most loop iterations and macro calls together.</summary>
    public long MaxSteps { get; init; } = 2_000_000;

    /// <summary>Most nested macro calls (and nested blocks when parsing).</summary>
    public int MaxDepth { get; init; } = 100;

    /// <summary>Most wall-clock time one render may take.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);
}
