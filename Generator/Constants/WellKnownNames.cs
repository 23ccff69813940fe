namespace Tessera.Generator.Constants;

/// <summary>Metadata names of the runtime's DSL surface, the generator's only coupling to it.</summary>
internal static class WellKnownNames
{
    public const string ModelAttribute = "Tessera.ModelAttribute";
    public const string CompileAttribute = "Tessera.CompileAttribute";
    public const string WeightAttribute = "Tessera.WeightAttribute";
    public const string LayersAttribute = "Tessera.LayersAttribute";
    public const string ExpertsAttribute = "Tessera.ExpertsAttribute";
    public const string ConfigAttribute = "Tessera.ConfigAttribute";
    public const string ColumnParallelAttribute = "Tessera.ColumnParallelAttribute";
    public const string RowParallelAttribute = "Tessera.RowParallelAttribute";
    public const string ReplicatedAttribute = "Tessera.ReplicatedAttribute";
    public const string Tensor = "Tessera.Tensor";
    public const string KvCache = "Tessera.KvCache";
    public const string Routing = "Tessera.Routing";
    public const string RopeScaling = "Tessera.RopeScaling";
    public const string Ops = "Tessera.Ops";
    public const string Namespace = "Tessera";
}
