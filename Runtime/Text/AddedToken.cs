namespace Tessera.Text;

/// <summary>A token added on top of the model's vocabulary (&lt;s&gt;, &lt;|endoftext|&gt;): matched in the raw text before BPE.</summary>
public sealed record AddedToken(int Id, string Content, bool Special = true, bool LeftStrip = false, bool RightStrip = false);
