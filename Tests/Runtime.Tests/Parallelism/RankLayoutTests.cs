using Tessera.Mpi;
using Tessera.Parallelism;

namespace Tessera.Runtime.Tests.Parallelism;

/// <summary>A process finds its place in the plan from its MPI rank alone: the layout must be a bijection, the in-process one.</summary>
public sealed class RankLayoutTests
{
    [Fact]
    public void Coordinates_of_every_rank_map_back_to_it_with_tensor_fastest_then_expert_sequence_stage_data()
    {
        var plan = new ParallelPlan(Data: 2, Pipeline: 3, Tensor: 2, Expert: 2, Sequence: 2);

        for (int rank = 0; rank < plan.DeviceCount; rank++)
        {
            var (data, stage, sequence, expert, tensor) = plan.CoordinatesOf(rank);
            Assert.Equal(rank, plan.RankOf(data, stage, sequence, expert, tensor));
        }
        Assert.Equal((0, 0, 0, 0, 1), plan.CoordinatesOf(1));
        Assert.Equal((0, 0, 0, 1, 0), plan.CoordinatesOf(2));
        Assert.Equal((0, 0, 1, 0, 0), plan.CoordinatesOf(4));
        Assert.Equal((0, 1, 0, 0, 0), plan.CoordinatesOf(8));
        Assert.Equal((1, 0, 0, 0, 0), plan.CoordinatesOf(24));
    }

    [Fact]
    public void A_rank_is_described_by_the_axes_its_plan_has()
    {
        Assert.Equal("rank 3 (stage 1, tensor 1)", MpiRank.Describe(new ParallelPlan(Pipeline: 2, Tensor: 2), 3));
        Assert.Equal("rank 5 (replica 1, expert 0, tensor 1)", MpiRank.Describe(new ParallelPlan(Data: 2, Expert: 2, Tensor: 2), 5));
        Assert.Equal("rank 0", MpiRank.Describe(new ParallelPlan(), 0));
    }
}
