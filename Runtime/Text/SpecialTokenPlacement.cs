using System.Text.Encodings.Web;

namespace Tessera.Text;

/// <summary>Where a trained vocabulary puts its special tokens.</summary>
public enum SpecialTokenPlacement
{
    /// <summary>Ids 0, 1, ... (Llama: &lt;unk&gt; 0, &lt;s&gt; 1, &lt;/s&gt; 2), then the 256 byte tokens, then the merges.</summary>
    First,

    /// <summary>After the merges, the last ids (GPT-2: &lt;|endoftext|&gt; is the last id).</summary>
    Last,
}
