// Compiled into both the runtime and the generator (linked from Generator/Tessera.Generator.csproj), so a
// [Compile] unit's build-time plan checks and the command line's run-time ones read sizes and pick degrees alike.
// Keep it free of anything netstandard2.0 lacks.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace Tessera.Parallelism
{
    /// <summary>The small arithmetic of plan checks: which tensor degrees divide every split size, and memory sizes as text.</summary>
    internal static class PlanArithmetic
    {
        // Decimal units are what device vendors print on the box (an "80GB" H100); binary ones are what allocators count.
        internal static readonly (string Unit, long Factor)[] Units =
        {
            ("TiB", 1L << 40), ("GiB", 1L << 30), ("MiB", 1L << 20), ("KiB", 1L << 10),
            ("TB", 1_000_000_000_000L), ("GB", 1_000_000_000L), ("MB", 1_000_000L), ("KB", 1_000L), ("kB", 1_000L),
            ("B", 1L),
        };

        /// <summary>
        /// The tensor degrees that divide every size (the divisors of their gcd) and that divide, or are a multiple of,
        /// every replicable size (key/value heads, replicated past the degree), ascending.
        /// </summary>
        public static int[] WorkingTensorDegrees(IEnumerable<int> sizes, IEnumerable<int>? replicable = null)
        {
            int gcd = 0;
            foreach (int size in sizes) gcd = Gcd(gcd, Math.Abs(size));
            var heads = (replicable ?? Enumerable.Empty<int>()).ToList();
            if (gcd == 0) return new[] { 1 };
            return Enumerable.Range(1, gcd).Where(d => gcd % d == 0 && heads.All(h => Works(h, d))).ToArray();
        }

        /// <summary>Whether degree <paramref name="degree"/> can split <paramref name="heads"/> replicable heads: it divides them or is a multiple of them.</summary>
        public static bool Works(int heads, int degree) => heads > 0 && degree > 0 && (heads % degree == 0 || degree % heads == 0);

        /// <summary>Parses a size with an optional unit (B, KB, MB, GB, TB decimal; KiB, MiB, GiB, TiB binary), case-insensitive.</summary>
        public static bool TryParseBytes(string? text, out long bytes)
        {
            bytes = 0;
            if (text is null || text.Trim().Length == 0) return false;
            string s = text.Trim();
            long factor = 1;
            foreach (var (unit, f) in Units)
            {
                if (s.EndsWith(unit, StringComparison.OrdinalIgnoreCase))
                {
                    factor = f;
                    s = s.Substring(0, s.Length - unit.Length).TrimEnd();
                    break;
                }
            }
            if (!double.TryParse(s, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double value) || value < 0)
                return false;
            double total = Math.Round(value * factor);
            if (total > long.MaxValue) return false;
            bytes = (long)total;
            return true;
        }

        private static int Gcd(int a, int b)
        {
            while (b != 0) (a, b) = (b, a % b);
            return a;
        }
    }
}
