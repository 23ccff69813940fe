using Tessera.Parallelism;

namespace Tessera.Experts;

/// <summary>
/// The runtime half of a mixture-of-experts layer, called by generated code in three steps:
/// <list type="number">
/// <item><see cref="Route"/>: softmax over the router logits, the top-k experts of each token and their weights;</item>
/// <item><see cref="Dispatch"/>: the tokens of each expert gathered into one (rows, width) block per expert this rank
/// holds — on one device a gather, under expert parallelism an all-to-all that sends each token to its experts' owners;
/// the generated code then runs each held expert once over its block (<see cref="RowsOf"/>, <see cref="InputOf"/>,
/// <see cref="OutputOf"/>), so a layer's work grows with k, not with the number of experts;</item>
/// <item><see cref="Combine"/>: the results back to their tokens (the reverse all-to-all), each token's output the
/// weighted sum of its chosen experts' outputs in expert order, as Hugging Face's Mixtral adds them.</item>
/// </list>
/// One router per engine serves every layer in turn (a layer's decision is used before the next layer routes).
/// </summary>
/// <remarks>
/// Expert e lives on expert rank e / (E / ep). A dispatch block for rank d holds, first, one count per expert of d
/// (as floats: exact below 2^24 rows), then the token rows of those experts, expert after expert, each in row order;
/// the combine blocks carry the results back in the same order, so a sender knows where every row it gets belongs.
/// </remarks>
public sealed class ExpertRouter
{
    private readonly ExpertLoad _load;
    private int _rows, _k, _width;
    private int[] _chosen = [];        // (rows, k): expert ids of each row, ascending
    private float[] _weights = [];     // (rows, k): their weights
    private int[] _positions = [];     // (rows, k): where the row's result sits, in the expert's output (local) or the block back from its owner (ep)
    private int[] _owner = [];         // (rows, k): expert rank holding the chosen expert (ep only)
    private readonly int[] _rowsOf;    // per held expert: rows this rank runs it on
    private readonly float[][] _inputs;
    private readonly float[][] _outputs;
    private int[] _sentOffsets = [];   // ep: [owner * held + expert]: where that expert's rows start among those sent to its owner
    private int[][] _received = [];    // ep: per source rank, rows of each held expert it sent
    private float[][] _returned = [];  // ep: per expert rank, the results it sent back

    /// <param name="experts">E, experts per layer</param>
    /// <param name="firstExpert">the first expert this rank holds</param>
    /// <param name="endExpert">one past its last</param>
    /// <param name="load">where the routing decisions are counted (one per engine)</param>
    public ExpertRouter(int experts, int firstExpert, int endExpert, ExpertLoad load)
    {
        if (experts < 1 || firstExpert < 0 || endExpert > experts || firstExpert >= endExpert)
            throw new ArgumentOutOfRangeException(nameof(experts), $"Experts [{firstExpert}, {endExpert}) of {experts} is not a range of held experts.");
        Experts = experts;
        FirstExpert = firstExpert;
        EndExpert = endExpert;
        _load = load ?? throw new ArgumentNullException(nameof(load));
        _rowsOf = new int[endExpert - firstExpert];
        _inputs = new float[endExpert - firstExpert][];
        _outputs = new float[endExpert - firstExpert][];
        Array.Fill(_inputs, []);
        Array.Fill(_outputs, []);
    }

    public int Experts { get; }

    public int FirstExpert { get; }

    public int EndExpert { get; }

    /// <summary>Experts per expert rank (every rank holds as many).</summary>
    private int Held => EndExpert - FirstExpert;

    /// <summary>
    /// Chooses each row's experts: p = softmax(logits row) over all <paramref name="experts"/>, the <paramref name="k"/>
    /// largest (ties to the lower index), weights p (divided by their sum when <paramref name="renormalize"/>).
    /// Counts the decisions in the engine's <see cref="ExpertLoad"/> under <paramref name="layer"/>.
    /// </summary>
    /// <param name="logits">(rows, experts) router logits</param>
    public void Route(float[] logits, int rows, int experts, int k, bool renormalize, int layer)
    {
        if (experts != Experts)
            throw new ArgumentException($"The router gives {experts} logits per token but the layer has {Experts} experts.", nameof(experts));
        if (k < 1 || k > experts)
            throw new ArgumentOutOfRangeException(nameof(k), $"Top-k routing needs 1 <= k <= {experts} experts (k = {k}).");
        if (logits.LongLength < (long)rows * experts)
            throw new ArgumentException($"The router logits hold {logits.LongLength} values, not ({rows}, {experts}).", nameof(logits));
        _rows = rows;
        _k = k;
        Grow(ref _chosen, rows * k);
        Grow(ref _weights, rows * k);
        Span<double> p = experts <= 256 ? stackalloc double[experts] : new double[experts];
        Span<bool> taken = experts <= 256 ? stackalloc bool[experts] : new bool[experts];
        for (int row = 0; row < rows; row++)
        {
            var z = logits.AsSpan(row * experts, experts);
            // Softmax in double: the choice must not depend on how the exponentials round.
            double max = double.NegativeInfinity;
            foreach (float v in z) max = Math.Max(max, v);
            double sum = 0;
            for (int e = 0; e < experts; e++) sum += p[e] = Math.Exp(z[e] - max);
            for (int e = 0; e < experts; e++) p[e] /= sum;
            if (double.IsNaN(sum))
                throw new InvalidOperationException($"Layer {layer}: the router logits of row {row} are not finite, so no expert can be chosen.");

            taken.Clear();
            var chosen = _chosen.AsSpan(row * k, k);
            double chosenSum = 0;
            for (int j = 0; j < k; j++)
            {
                int best = -1;
                for (int e = 0; e < experts; e++)
                    if (!taken[e] && (best < 0 || p[e] > p[best])) best = e; // strict: the lower index wins a tie
                taken[best] = true;
                chosen[j] = best;
                chosenSum += p[best];
            }
            chosen.Sort();
            for (int j = 0; j < k; j++)
            {
                _weights[row * k + j] = (float)(renormalize ? p[chosen[j]] / chosenSum : p[chosen[j]]);
                _load.Add(layer, chosen[j]);
            }
        }
    }

    /// <summary>
    /// Gathers the rows of <paramref name="x"/> (rows, <paramref name="width"/>) routed to each expert this rank holds,
    /// from this rank's rows and, when <paramref name="group"/> has several ranks, from every expert rank's (all-to-all).
    /// Every rank of the group must call it, also with no rows.
    /// </summary>
    public void Dispatch(float[] x, int width, ICollectiveGroup group)
    {
        _width = width;
        int n = _rows * _k;
        Grow(ref _positions, n);
        if (group.Size == 1)
        {
            // One device: gather straight into each expert's block.
            Array.Clear(_rowsOf);
            for (int i = 0; i < n; i++) _positions[i] = _rowsOf[_chosen[i] - FirstExpert]++;
            for (int e = 0; e < Held; e++) Grow(ref _inputs[e], (long)_rowsOf[e] * width);
            for (int i = 0; i < n; i++)
                Array.Copy(x, (long)(i / _k) * width, _inputs[_chosen[i] - FirstExpert], (long)_positions[i] * width, width);
            return;
        }

        int ranks = group.Size;
        if (Held * ranks != Experts)
            throw new InvalidOperationException($"{ranks} expert ranks holding {Held} experts each do not cover the {Experts} experts.");
        // Per destination: counts per expert, then each (row, slot)'s position within its expert's rows from this rank.
        Grow(ref _owner, n);
        var counts = new int[ranks, Held];
        for (int i = 0; i < n; i++)
        {
            int e = _chosen[i];
            _owner[i] = e / Held;
            _positions[i] = counts[_owner[i], e % Held]++;
        }
        var send = new float[ranks][];
        Grow(ref _sentOffsets, ranks * Held);
        for (int d = 0; d < ranks; d++)
        {
            int total = 0;
            for (int e = 0; e < Held; e++) { _sentOffsets[d * Held + e] = total; total += counts[d, e]; }
            send[d] = new float[Held + (long)total * width];
            for (int e = 0; e < Held; e++) send[d][e] = counts[d, e];
        }
        for (int i = 0; i < n; i++)
        {
            int d = _owner[i], e = _chosen[i] % Held;
            Array.Copy(x, (long)(i / _k) * width, send[d], Held + (long)(_sentOffsets[d * Held + e] + _positions[i]) * width, width);
        }

        var received = group.AllToAll(send);
        _received = new int[ranks][];
        Array.Clear(_rowsOf);
        for (int source = 0; source < ranks; source++)
        {
            _received[source] = new int[Held];
            for (int e = 0; e < Held; e++) _rowsOf[e] += _received[source][e] = checked((int)received[source][e]);
        }
        for (int e = 0; e < Held; e++) Grow(ref _inputs[e], (long)_rowsOf[e] * width);
        var filled = new int[Held];
        for (int source = 0; source < ranks; source++)
        {
            long offset = Held;
            for (int e = 0; e < Held; e++)
            {
                int rows = _received[source][e];
                Array.Copy(received[source], offset, _inputs[e], (long)filled[e] * width, (long)rows * width);
                filled[e] += rows;
                offset += (long)rows * width;
            }
        }
    }

    /// <summary>Rows this rank runs <paramref name="expert"/> (a held expert's global index) on, after <see cref="Dispatch"/>.</summary>
    public int RowsOf(int expert) => _rowsOf[Local(expert)];

    /// <summary>(<see cref="RowsOf"/>, width) the expert's input rows.</summary>
    public float[] InputOf(int expert) => _inputs[Local(expert)];

    /// <summary>A buffer for the expert's (<see cref="RowsOf"/>, <paramref name="width"/>) output, which <see cref="Combine"/> reads.</summary>
    public float[] OutputOf(int expert, int width)
    {
        int e = Local(expert);
        Grow(ref _outputs[e], (long)_rowsOf[e] * width);
        return _outputs[e];
    }

    /// <summary>
    /// y (rows, <paramref name="width"/>) = for each row, the sum over its chosen experts, in expert order, of weight x
    /// output; under expert parallelism the outputs first return to the ranks their rows came from (all-to-all).
    /// </summary>
    public void Combine(float[] y, int width, ICollectiveGroup group)
    {
        int n = _rows * _k;
        if (group.Size > 1)
        {
            // Each source gets back, expert after expert, the results of the rows it sent, in the order it sent them.
            int ranks = group.Size;
            var back = new float[ranks][];
            var taken = new int[Held];
            for (int source = 0; source < ranks; source++)
            {
                back[source] = new float[(long)_received[source].Sum() * width];
                long offset = 0;
                for (int e = 0; e < Held; e++)
                {
                    long length = (long)_received[source][e] * width;
                    Array.Copy(_outputs[e], (long)taken[e] * width, back[source], offset, length);
                    taken[e] += _received[source][e];
                    offset += length;
                }
            }
            _returned = group.AllToAll(back);
        }

        Array.Clear(y, 0, _rows * width);
        for (int i = 0; i < n; i++)
        {
            var output = y.AsSpan((i / _k) * width, width);
            ReadOnlySpan<float> result = group.Size == 1
                ? _outputs[_chosen[i] - FirstExpert].AsSpan(_positions[i] * width, width)
                : _returned[_owner[i]].AsSpan((_sentOffsets[_owner[i] * Held + _chosen[i] % Held] + _positions[i]) * width, width);
            System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(result, _weights[i], output, output);
        }
    }

    private int Local(int expert)
    {
        if (expert < FirstExpert || expert >= EndExpert)
            throw new ArgumentOutOfRangeException(nameof(expert), $"Expert {expert} is not held here (experts {FirstExpert} to {EndExpert - 1}).");
        return expert - FirstExpert;
    }

    private static void Grow(ref float[] buffer, long length)
    {
        if (buffer.LongLength < length) buffer = new float[length];
    }

    private static void Grow(ref int[] buffer, int length)
    {
        if (buffer.Length < length) buffer = new int[length];
    }
}
