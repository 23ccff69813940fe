namespace Tessera.Models.Serving;

/// <summary>What <c>GET /health</c> reports: 200 when <see cref="Ready"/>, 503 otherwise.</summary>
public enum ServerHealth
{
    /// <summary>Listening while the model loads and warms up: the API answers 503 "model_loading".</summary>
    Loading,

    /// <summary>The model is loaded and its batcher takes requests.</summary>
    Ready,

    /// <summary>Stopping (Ctrl+C, SIGTERM, a stop of the host or of its batcher): the API answers 503 "shutting_down".</summary>
    ShuttingDown,
}
