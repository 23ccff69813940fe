// Compiled into both the runtime and the generator (linked from Generator/Tessera.Generator.csproj): the one cost and
// memory model that stage balancing, the plan checks at build time and at run time, the dry-run planner and the
// advisor all use. Keep it free of anything netstandard2.0 lacks.
using System;

namespace Tessera.Planning
{
    /// <summary>One layer's figures, when layers differ: parameters (experts included), those every tensor rank holds whole, the experts', FLOPs per token.</summary>
    internal readonly struct LayerCost
    {
        public LayerCost(double parameters, double wholeParameters, double expertParameters, double flopsPerToken)
        {
            Parameters = parameters;
            WholeParameters = wholeParameters;
            ExpertParameters = expertParameters;
            FlopsPerToken = flopsPerToken;
        }

        public double Parameters { get; }

        public double WholeParameters { get; }

        public double ExpertParameters { get; }

        public double FlopsPerToken { get; }
    }

    /// <summary>
    /// A model's sizes in parameters (dtype-free), computed from its config alone, and what a plan costs with them:
    /// parameters, bytes per device at a weight and cache dtype, and the relative time of a pipeline stage.
    /// </summary>
    /// <remarks>
    /// "Whole" parameters are held by every tensor rank (norms, biases after row-parallel products, a router, a
    /// replicated embedding); the rest are split 1/tp. A layer's experts are split 1/ep across the expert ranks (each
    /// expert also 1/tp). A tied head shares <see cref="TiedHeadParameters"/> with the embedding: counted once in the
    /// model, and once on a device holding both, but a last stage without the embedding holds its own copy. Layers may
    /// differ (dense layers among sparse ones): every per-layer figure is kept per layer, and stages add theirs up.
    /// </remarks>
    internal sealed class ModelCost
    {
        private readonly double[] _layerParameters, _layerWholeParameters, _layerExpertParameters, _layerFlops;

        /// <param name="byLayer">
        /// when layers differ, each layer's (parameters, whole, experts, FLOPs per token); the scalar arguments are then
        /// their averages (what a reader of one layer's figure sees)
        /// </param>
        public ModelCost(int layers, double layerParameters, double layerWholeParameters, double layerExpertParameters, int experts, int expertsPerToken,
            double embeddingParameters, double embeddingWholeParameters, double headParameters, double headWholeParameters, double tiedHeadParameters,
            double layerFlopsPerToken, double headFlopsPerToken, double kvValuesPerTokenPerLayer, int kvHeads, int activationWidth, int vocab, int context,
            LayerCost[]? byLayer = null)
        {
            Layers = layers;
            if (byLayer != null && byLayer.Length != layers) throw new ArgumentException("one cost per layer", nameof(byLayer));
            _layerParameters = PerLayer(layers, byLayer, c => c.Parameters, layerParameters);
            _layerWholeParameters = PerLayer(layers, byLayer, c => c.WholeParameters, layerWholeParameters);
            _layerExpertParameters = PerLayer(layers, byLayer, c => c.ExpertParameters, layerExpertParameters);
            _layerFlops = PerLayer(layers, byLayer, c => c.FlopsPerToken, layerFlopsPerToken);
            LayerParameters = Average(_layerParameters, layerParameters);
            LayerWholeParameters = Average(_layerWholeParameters, layerWholeParameters);
            LayerExpertParameters = Average(_layerExpertParameters, layerExpertParameters);
            Experts = experts;
            ExpertsPerToken = expertsPerToken;
            EmbeddingParameters = embeddingParameters;
            EmbeddingWholeParameters = embeddingWholeParameters;
            HeadParameters = headParameters;
            HeadWholeParameters = headWholeParameters;
            TiedHeadParameters = tiedHeadParameters;
            LayerFlopsPerToken = Average(_layerFlops, layerFlopsPerToken);
            HeadFlopsPerToken = headFlopsPerToken;
            KvValuesPerTokenPerLayer = kvValuesPerTokenPerLayer;
            KvHeads = kvHeads;
            ActivationWidth = activationWidth;
            Vocab = vocab;
            Context = context;
        }

        /// <summary>Compute throughput the stage balancing assumes (a modest CPU), FLOP/s.</summary>
        public const double BalanceFlopsPerSecond = 100e9;

        /// <summary>Memory bandwidth the stage balancing assumes, bytes/s (F32 weights).</summary>
        public const double BalanceBytesPerSecond = 50e9;

        public int Layers { get; }

        /// <summary>One layer's parameters, all its experts included.</summary>
        public double LayerParameters { get; }

        /// <summary>The part of a layer every tensor rank holds whole.</summary>
        public double LayerWholeParameters { get; }

        /// <summary>The part of a layer that is experts (all of them).</summary>
        public double LayerExpertParameters { get; }

        public int Experts { get; }

        public int ExpertsPerToken { get; }

        /// <summary>The first stage's extra parameters (embeddings).</summary>
        public double EmbeddingParameters { get; }

        public double EmbeddingWholeParameters { get; }

        /// <summary>The last stage's extra parameters (final norm and head, a tied head's matrix included).</summary>
        public double HeadParameters { get; }

        public double HeadWholeParameters { get; }

        /// <summary>The head's parameters that are the embedding's when the weights are tied (0 when untied).</summary>
        public double TiedHeadParameters { get; }

        /// <summary>2 x multiply-adds of one layer's products per token (k experts of a mixture).</summary>
        public double LayerFlopsPerToken { get; }

        public double HeadFlopsPerToken { get; }

        /// <summary>Keys plus values one token adds to one layer's cache (2 x KV heads x head dim).</summary>
        public double KvValuesPerTokenPerLayer { get; }

        /// <summary>Key/value heads (tensor ranks past them replicate one each); 0 when the model does not say.</summary>
        public int KvHeads { get; }

        public int ActivationWidth { get; }

        public int Vocab { get; }

        public int Context { get; }

        private static double[] PerLayer(int layers, LayerCost[]? byLayer, Func<LayerCost, double> figure, double uniform)
        {
            var values = new double[Math.Max(0, layers)];
            for (int i = 0; i < values.Length; i++) values[i] = byLayer == null ? uniform : figure(byLayer[i]);
            return values;
        }

        private static double Average(double[] values, double uniform)
        {
            if (values.Length == 0) return uniform;
            double sum = 0;
            foreach (double v in values) sum += v;
            return sum / values.Length;
        }

        private static double Sum(double[] values, int first, int end)
        {
            double sum = 0;
            for (int i = Math.Max(0, first); i < Math.Min(end, values.Length); i++) sum += values[i];
            return sum;
        }

        /// <summary>The parameters of layers [first, end), all their experts included.</summary>
        public double LayerParametersOf(int first, int end) => Sum(_layerParameters, first, end);

        /// <summary>The experts' parameters of layers [first, end).</summary>
        public double LayerExpertParametersOf(int first, int end) => Sum(_layerExpertParameters, first, end);

        /// <summary>2 x multiply-adds per token of layers [first, end).</summary>
        public double LayerFlopsOf(int first, int end) => Sum(_layerFlops, first, end);

        /// <summary>Every parameter once (a tied head's matrix counted with the embedding).</summary>
        public double Parameters => EmbeddingParameters + LayerParametersOf(0, Layers) + HeadParameters - TiedHeadParameters;

        /// <summary>How many ways tensor parallelism splits the KV cache: tp, at most the KV heads (replicated past them).</summary>
        public int KvShare(int tensor) => KvHeads > 0 ? Math.Max(1, Math.Min(tensor, KvHeads)) : Math.Max(1, tensor);

        /// <summary>
        /// Relative seconds of the stage holding layers [first, end): FLOPs at <see cref="BalanceFlopsPerSecond"/> plus
        /// its F32 weights streamed once at <see cref="BalanceBytesPerSecond"/>, embeddings on the first stage (a gather:
        /// bytes only), the head on the last. Decode is bandwidth-bound and prefill compute-bound; the sum ranks stages
        /// the same way either way, which is all balancing needs.
        /// </summary>
        public double StageSeconds(int first, int end)
        {
            double cost = LayerFlopsOf(first, end) / BalanceFlopsPerSecond + 4 * LayerParametersOf(first, end) / BalanceBytesPerSecond;
            if (first == 0) cost += 4 * EmbeddingParameters / BalanceBytesPerSecond;
            if (end == Layers) cost += HeadFlopsPerToken / BalanceFlopsPerSecond + 4 * HeadParameters / BalanceBytesPerSecond;
            return cost;
        }

        /// <summary>Layers per stage minimising the slowest stage (contiguous, each at least one layer).</summary>
        public int[] Balance(int stages) => Tessera.Parallelism.ContiguousPartition.Balance(Layers, stages, StageSeconds);

        /// <summary>
        /// Parameters one device of a stage holds: its layers [<paramref name="first"/>, <paramref name="end"/>) (its 1/ep
        /// of the experts), the embeddings on the first stage, the head on the last (sharing a tied matrix with the
        /// embedding when it holds both), whole parts whole and the rest 1/tp.
        /// </summary>
        public double DeviceParameters(int first, int end, bool firstStage, bool lastStage, int tensor, int expert)
        {
            tensor = Math.Max(1, tensor);
            expert = Math.Max(1, expert);
            double whole = Sum(_layerWholeParameters, first, end), experts = LayerExpertParametersOf(first, end);
            double split = LayerParametersOf(first, end) - whole - experts + experts / expert;
            if (firstStage)
            {
                whole += EmbeddingWholeParameters;
                split += EmbeddingParameters - EmbeddingWholeParameters;
            }
            if (lastStage)
            {
                whole += HeadWholeParameters;
                split += HeadParameters - HeadWholeParameters;
                // A tied head on the device that holds the embedding whole reuses it (one device: no split at all).
                if (firstStage && tensor == 1) split -= TiedHeadParameters;
            }
            return whole + split / tensor;
        }

        /// <summary>Bytes of the KV cache one device of a stage holds for <paramref name="tokens"/> cached positions in all.</summary>
        public double DeviceKvBytes(int layersInStage, double tokens, int tensor, int sequence, double bytesPerValue) =>
            layersInStage * KvValuesPerTokenPerLayer * Math.Ceiling(tokens / Math.Max(1, sequence)) / KvShare(tensor) * bytesPerValue;

        /// <summary>
        /// An estimate of the activation workspace of one device running <paramref name="rows"/> tokens at once, of which
        /// <paramref name="logitRows"/> want logits: a handful of (rows, width) F32 buffers and the logit rows (its share of
        /// the vocabulary). Small next to weights and cache; reported, not optimised.
        /// </summary>
        public double DeviceActivationBytes(double rows, double logitRows, int tensor) =>
            (rows * 8.0 * ActivationWidth + logitRows * Math.Ceiling((double)Vocab / Math.Max(1, tensor))) * 4;
    }
}
