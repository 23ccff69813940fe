namespace Tessera.Parallelism;

/// <summary>
/// What arrives over an <see cref="IStageLink"/>: host floats or a device payload, as two distinct cases, so that a
/// receiver says which it can take instead of testing an object's type.
/// </summary>
public abstract record StageMessage
{
    private StageMessage()
    {
    }

    /// <summary>Activations in host memory (a copy the receiver owns).</summary>
    public sealed record Host(float[] Data) : StageMessage;

    /// <summary>A device buffer passed as it is, within one process.</summary>
    public sealed record Device(IDevicePayload Payload) : StageMessage;

    public string Describe() => this switch
    {
        Host host => $"{host.Data.Length} floats in host memory",
        Device device => device.Payload.Describe(),
        _ => GetType().Name,
    };
}
