namespace Tessera.Generation;

/// <summary>
/// Streams text while watching for stop strings that may arrive split over several tokens: any tail of the text that
/// could still become a stop string is held back until it either completes one (generation ends; the stop string and
/// what follows it are dropped) or can no longer match (it is released). Because the held tail always covers the start
/// of any match in progress, a stop string never straddles text that was already released.
/// </summary>
public sealed class StopStringFilter
{
    private readonly string[] _stops;
    private string _held = "";

    public StopStringFilter(IEnumerable<string> stopStrings)
    {
        _stops = stopStrings.ToArray();
        if (_stops.Any(string.IsNullOrEmpty)) throw new ArgumentException("Stop strings must not be empty.", nameof(stopStrings));
    }

    /// <summary>True once a stop string has been seen; later text is ignored.</summary>
    public bool Stopped { get; private set; }

    /// <summary>Takes the next piece of text and returns what may be shown now.</summary>
    public string Push(string piece)
    {
        if (Stopped || piece.Length == 0 && _held.Length == 0) return "";
        string text = _held + piece;
        int stopAt = -1;
        foreach (var stop in _stops)
        {
            int at = text.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (stopAt < 0 || at < stopAt)) stopAt = at;
        }
        if (stopAt >= 0)
        {
            Stopped = true;
            _held = "";
            return text[..stopAt];
        }
        int hold = LongestTailThatStartsAStop(text);
        _held = text[^hold..];
        return text[..^hold];
    }

    /// <summary>Releases the held tail (the generation ended for another reason, so it can no longer become a stop string).</summary>
    public string Flush()
    {
        string rest = Stopped ? "" : _held;
        _held = "";
        return rest;
    }

    private int LongestTailThatStartsAStop(string text)
    {
        int best = 0;
        foreach (var stop in _stops)
            for (int length = Math.Min(stop.Length - 1, text.Length); length > best; length--)
                if (text.AsSpan(text.Length - length).SequenceEqual(stop.AsSpan(0, length)))
                {
                    best = length;
                    break;
                }
        return best;
    }
}
