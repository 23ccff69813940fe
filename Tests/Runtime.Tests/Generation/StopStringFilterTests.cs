using Tessera.Generation;

namespace Tessera.Runtime.Tests.Generation;

/// <summary>Stop strings end the text before them, also when split across tokens; text that cannot match is never held for long.</summary>
public sealed class StopStringFilterTests
{
    private static (string Shown, bool Stopped) Feed(string[] stops, params string[] pieces)
    {
        var filter = new StopStringFilter(stops);
        string shown = string.Concat(pieces.Select(filter.Push));
        if (!filter.Stopped) shown += filter.Flush();
        return (shown, filter.Stopped);
    }

    [Fact]
    public void AStopStringInsideOnePiece_EndsTheTextBeforeIt()
    {
        Assert.Equal(("Hello", true), Feed(["\n\n"], "Hello\n\nworld"));
    }

    [Fact]
    public void AStopStringSplitAcrossPieces_IsFound_AndNothingOfItIsShown()
    {
        var filter = new StopStringFilter(["END"]);

        Assert.Equal("abc ", filter.Push("abc E"));
        Assert.Equal("", filter.Push("N"));
        Assert.Equal("", filter.Push("Dxyz"));
        Assert.True(filter.Stopped);
    }

    [Fact]
    public void AHeldPrefixThatStopsMatching_IsReleased()
    {
        var filter = new StopStringFilter(["END"]);

        Assert.Equal("x", filter.Push("xEN"));
        Assert.Equal("ENo", filter.Push("o"));
        Assert.False(filter.Stopped);
    }

    [Fact]
    public void WithoutAMatch_EverythingIsShownAfterTheFlush()
    {
        Assert.Equal(("one E two EN", false), Feed(["END"], "one E", " two", " EN"));
    }

    [Fact]
    public void TheEarliestOfSeveralStopStrings_Wins()
    {
        Assert.Equal(("a", true), Feed(["cd", "bc"], "ab", "cd"));
    }
}
