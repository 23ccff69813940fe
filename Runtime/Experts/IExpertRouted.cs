namespace Tessera.Experts;

/// <summary>An engine whose model has mixture-of-experts layers: it counts where its routers send the tokens.</summary>
public interface IExpertRouted
{
    /// <summary>The routing counts of the tokens this engine (or rank) has run.</summary>
    ExpertLoad ExpertLoad { get; }
}
