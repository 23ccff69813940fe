// Compiled into both the runtime and the generator (linked from Generator/Tessera.Generator.csproj), so that a
// [Compile] unit folds exactly the layer split the command line chooses: one algorithm, not two copies.
// Keep it free of anything netstandard2.0 lacks.
using System;

namespace Tessera.Parallelism
{
    /// <summary>Cuts items 0..count-1 into contiguous, non-empty parts minimising the most expensive part.</summary>
    internal static class ContiguousPartition
    {
        /// <param name="count">items (layers)</param>
        /// <param name="parts">parts (stages), 1 ≤ parts ≤ count</param>
        /// <param name="cost">the cost of the part holding items [first, end)</param>
        /// <returns>items per part</returns>
        /// <remarks>
        /// best[k, i]: the smallest possible maximum part cost when the first i items form k parts; squares[k, i] the sum
        /// of squared part costs of that choice, a tie-breaker that prefers [3, 2, 2] to [3, 3, 1]. Counts are small
        /// (tens), so the exhaustive O(P L²) dynamic programme is instant and exact for the maximum. Among full ties the
        /// latest cut wins: the last part stays small, earlier ones grow.
        /// </remarks>
        public static int[] Balance(int count, int parts, Func<int, int, double> cost)
        {
            var best = new double[parts + 1, count + 1];
            var squares = new double[parts + 1, count + 1];
            var cut = new int[parts + 1, count + 1];
            for (int k = 0; k <= parts; k++)
                for (int i = 0; i <= count; i++) best[k, i] = double.PositiveInfinity;
            best[0, 0] = 0;
            for (int k = 1; k <= parts; k++)
            {
                for (int i = k; i <= count - (parts - k); i++)
                {
                    for (int j = k - 1; j < i; j++)
                    {
                        if (double.IsPositiveInfinity(best[k - 1, j])) continue; // no way to cut j items into k - 1 parts
                        double part = cost(j, i);
                        double max = Math.Max(best[k - 1, j], part);
                        double square = squares[k - 1, j] + part * part;
                        double eps = 1e-12 * max;
                        bool better = max < best[k, i] - eps || (Math.Abs(max - best[k, i]) <= eps && square <= squares[k, i] * (1 + 1e-12));
                        if (better)
                        {
                            best[k, i] = Math.Min(best[k, i], max);
                            squares[k, i] = square;
                            cut[k, i] = j;
                        }
                    }
                }
            }

            var split = new int[parts];
            int end = count;
            for (int k = parts; k >= 1; k--)
            {
                int start = cut[k, end];
                split[k - 1] = end - start;
                end = start;
            }
            return split;
        }
    }
}
