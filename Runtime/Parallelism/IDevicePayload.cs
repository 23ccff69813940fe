namespace Tessera.Parallelism;

/// <summary>
/// A device buffer handed between ranks of one process as it is (a GPU stage's activations, a rank's partial in a
/// device collective): the receiver reads the memory in place. Host transports never look inside.
/// </summary>
public interface IDevicePayload
{
    /// <summary>What it holds, for messages (e.g. "1024 floats on cuda:0").</summary>
    string Describe();
}
