using System.Text.Json;

namespace Tessera.Generation.Grammars;

/// <summary>One callable function as a request declares it.</summary>
/// <param name="Name">The function's name, written verbatim into the call.</param>
/// <param name="Parameters">The JSON schema of its arguments (an object schema; null: any JSON object).</param>
public sealed record ToolSchema(string Name, JsonElement? Parameters);
