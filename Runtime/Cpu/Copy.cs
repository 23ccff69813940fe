namespace Tessera.Cpu;

public static partial class CpuKernels
{
    /// <summary>dst (T, count) = src (T, srcWidth)[:, start .. start + count): a slice of the feature axis (Chunk).</summary>
    public static void CopyColumns(float[] src, int rows, int srcWidth, int start, int count, float[] dst)
    {
        for (int r = 0; r < rows; r++)
            Array.Copy(src, (long)r * srcWidth + start, dst, (long)r * count, count);
    }

    /// <summary>dst (R, width) = src rows <paramref name="rowIndices"/>: the rows whose logits are wanted, before the head.</summary>
    public static float[] GatherRows(float[] src, int width, int[] rowIndices, float[] dst)
    {
        for (int i = 0; i < rowIndices.Length; i++)
            Array.Copy(src, (long)rowIndices[i] * width, dst, (long)i * width, width);
        return dst;
    }

    /// <summary>Checks every token id against the vocabulary before any kernel reads a table with it.</summary>
    public static void CheckTokenIds(int[] tokens, int vocabSize)
    {
        for (int i = 0; i < tokens.Length; i++)
            if ((uint)tokens[i] >= (uint)vocabSize)
                throw new ArgumentOutOfRangeException(nameof(tokens), tokens[i],
                    $"Token id {tokens[i]} (row {i} of the batch) is outside the vocabulary: ids must be in [0, {vocabSize}).");
    }
}
