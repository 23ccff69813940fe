namespace Tessera.Generation.Grammars;

/// <summary>
/// A JSON schema uses a keyword (or a form of one) that <see cref="JsonSchemaGrammar"/> cannot enforce: the request
/// must be refused (the server answers 400 with <see cref="Exception.Message"/>), never served unconstrained.
/// </summary>
public sealed class UnsupportedSchemaException(string keyword, string pointer, string detail)
    : ArgumentException($"JSON schema at '{(pointer.Length == 0 ? "#" : "#" + pointer)}': '{keyword}' {detail}")
{
    /// <summary>The keyword refused (e.g. "oneOf", "minimum").</summary>
    public string Keyword { get; } = keyword;

    /// <summary>Where in the schema, as a JSON pointer ("" for the root, "/properties/a").</summary>
    public string Pointer { get; } = pointer;
}
