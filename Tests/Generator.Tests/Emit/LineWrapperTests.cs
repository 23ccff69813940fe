using System.Text.RegularExpressions;
using Tessera.Generator.Helpers;
using Tessera.Generator.Tests.Infrastructure;

namespace Tessera.Generator.Tests.Emit;

/// <summary>The writer's one rule for long lines: only whitespace changes, and the pieces read like hand-written code.</summary>
public sealed class LineWrapperTests
{
    private static string Wrapped(string line, int width = 60) =>
        string.Join("\n", LineWrapper.Wrap(line, width, out _));

    [Fact]
    public void ALineThatFits_IsLeftAlone()
    {
        Assert.Equal("    Foo(a, b);", Wrapped("    Foo(a, b);"));
    }

    [Fact]
    public void ALongCall_PutsOneArgumentPerLine_OneLevelIn()
    {
        Assert.Equal(
            "    global::Tessera.Cpu.CpuKernels.MatMul(\n        input,\n        rows,\n        Dim,\n        w.Q,\n        output);",
            Wrapped("    global::Tessera.Cpu.CpuKernels.MatMul(input, rows, Dim, w.Q, output);"));
    }

    [Fact]
    public void StringLiterals_StayWhole_CommasAndBracketsInsideThemAreNotStructure()
    {
        string line = "Load($\"model.layers.{i}.mlp.up_proj.weight\", \"a, (b\", $\"Up: Out = {Out}, In = {In}\", x);";
        string wrapped = Wrapped(line, 40);
        Assert.Contains("$\"model.layers.{i}.mlp.up_proj.weight\",", wrapped);
        Assert.Contains("\"a, (b\",", wrapped);
        Assert.Contains("$\"Up: Out = {Out}, In = {In}\",", wrapped);
        Assert.Equal(Regex.Replace(line, @"\s+", ""), Regex.Replace(wrapped, @"\s+", ""));
    }

    [Fact]
    public void ALambdaAsTheLastArgument_TellsTheWriterToIndentItsBody()
    {
        var writer = new IndentedTextWriter(width: 40);
        writer.WriteLine("Kernels.MatMul(input, rows, Dim, w.Gate, output, (segment, row, column) =>");
        using (writer.WriteBlock(closing: ");"))
            writer.WriteLine("Silu(segment);");
        writer.WriteLine("Next();");
        Assert.Equal(
            "Kernels.MatMul(\n    input,\n    rows,\n    Dim,\n    w.Gate,\n    output,\n    (segment, row, column) =>\n    {\n        Silu(segment);\n    });\nNext();\n",
            writer.ToString());
    }

    [Fact]
    public void AComment_IsReflowedAtSpaces_WithItsPrefix_AndASummaryTakesTheThreePartForm()
    {
        Assert.Equal("// one two three four\n// five six", Wrapped("// one two three four five six", 22));
        Assert.Equal("/// <summary>\n/// one two three\n/// </summary>", Wrapped("/// <summary>one two three</summary>", 30));
    }

    [Fact]
    public void PreprocessorLines_AreNeverBroken()
    {
        string line = "#define TensorDegree " + new string('1', 80);
        Assert.Equal(line, Wrapped(line));
    }

    [Fact]
    public void TheModelZoo_StaysWithin120Columns_SaveForMessagesThatAreOneLongLiteral()
    {
        var zoo = ModelSources.RunZoo();
        foreach (var tree in zoo.Result.GeneratedTrees)
            foreach (var line in tree.ToString().Split('\n').Where(l => l.Length > LineWrapper.DefaultWidth))
                Assert.Matches(@"^\s*\$?""(?:[^""\\]|\\.)*""\);?$", line); // one literal, escaped quotes and all
    }
}
