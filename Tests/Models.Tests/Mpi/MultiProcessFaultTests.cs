using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Tessera.Models.Tests.Cli;

namespace Tessera.Models.Tests.Mpi;

/// <summary>
/// A job of several processes fails as one program: a bad launch gets one error line from rank 0, a rank that throws
/// or is killed or hangs ends every rank within 30 s with the failing rank named, and nothing waits forever.
/// </summary>
[Collection(MpiCollection.Name)]
public sealed class MultiProcessFaultTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan FaultBound = TimeSpan.FromSeconds(30);

    [MpiFact]
    public void A_world_of_the_wrong_size_gets_one_error_line_from_rank_0_and_every_process_exits()
    {
        using var scratch = new ScratchCheckpoint();

        var result = Mpirun.Run(3, Bound, "logits", "--tokens", "1,2,3", "--tp", "2", "-o", scratch.OutPath);

        Assert.True(result.ExitCode != 0, result.ToString());
        var error = Assert.Single(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: ", error);
        Assert.Contains("needs 2 processes", error);
        Assert.Contains("mpirun started 3", error);
        Assert.Empty(result.Out);
        scratch.AssertNothingWritten();
    }

    [MpiFact]
    public void Bad_arguments_are_reported_once_by_rank_0()
    {
        using var scratch = new ScratchCheckpoint();

        var result = Mpirun.Run(2, Bound, "logits", "--tokens", "1,x", "--tp", "2", "-o", scratch.OutPath);

        Assert.True(result.ExitCode != 0, result.ToString());
        Assert.Equal("error: --tokens: 'x' is not an integer token id.", Assert.Single(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries)).TrimEnd('\r'));
    }

    [MpiFact]
    public void Commands_other_than_logits_generate_and_serve_refuse_to_run_under_mpirun()
    {
        var result = Mpirun.Run(2, Bound, "plan", "--tp", "2");

        Assert.True(result.ExitCode != 0, result.ToString());
        Assert.Contains("run `tessera plan` without mpirun", Assert.Single(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
    }

    [MpiFact]
    public void A_rank_that_throws_while_loading_its_slices_ends_the_job_naming_itself_and_the_reason()
    {
        // Only the last stage holds layer 3: its rank alone fails, while rank 0 has loaded and waits for it.
        using var scratch = new ScratchCheckpoint();
        const string missing = "model.layers.3.mlp.down_proj.weight";
        SafetensorsFixture.Rewrite(scratch.ModelPath, tensors => tensors.Where(t => t.Name != missing));

        var result = Mpirun.Run(2, FaultBound, "logits", "-c", scratch.Directory, "--tokens", "1,2,3", "--pp", "2", "-o", scratch.OutPath);

        Assert.True(result.ExitCode != 0, result.ToString());
        var error = result.Error.Split('\n').Single(l => l.StartsWith("error: ", StringComparison.Ordinal));
        Assert.Contains("rank 1 (stage 1) failed", error);
        Assert.Contains(missing, error);
        scratch.AssertNothingWritten();
    }

    [MpiFact]
    public async Task A_rank_killed_mid_generation_ends_the_job_within_30_seconds_naming_the_rank()
    {
        using var job = Mpirun.Start(2, ["serve", "--pp", "2", "--port", "0"], quiet: false);
        using var client = await ClientOf(job);
        // A long generation is under way (the server streams it) when rank 1 dies.
        var request = client.PostAsync("/v1/completions", JsonContent.Create(new JsonObject { ["prompt"] = new JsonArray(1, 2, 3), ["max_tokens"] = 200, ["stream"] = true }),
            CancellationToken.None);
        await Task.Delay(500);

        var killed = Stopwatch.StartNew();
        Process.GetProcessById(job.PidOfRank(1)).Kill();
        var result = job.WaitForExit(FaultBound);

        Assert.True(killed.Elapsed < FaultBound);
        Assert.True(result.ExitCode != 0, result.ToString());
        Assert.Contains("process rank 1", result.Error);
        Assert.Contains("signal 9", result.Error);
        try { await request; } catch (HttpRequestException) { } // the connection may close with the job
    }

    [MpiFact]
    public async Task A_rank_that_hangs_ends_the_job_when_its_peers_wait_longer_than_the_timeout()
    {
        using var job = Mpirun.Start(2, ["serve", "--pp", "2", "--port", "0"], new Dictionary<string, string> { ["TESSERA_MPI_TIMEOUT"] = "3" });
        using var client = await ClientOf(job);
        int stuck = job.PidOfRank(1);
        Signal(stuck, "STOP");
        try
        {
            var stopped = Stopwatch.StartNew();
            var request = client.PostAsync("/v1/completions", JsonContent.Create(new JsonObject { ["prompt"] = new JsonArray(1, 2, 3), ["max_tokens"] = 4 }), CancellationToken.None);
            var result = job.WaitForExit(FaultBound);

            Assert.True(stopped.Elapsed < FaultBound);
            Assert.True(result.ExitCode != 0, result.ToString());
            var error = result.Error.Split('\n').Single(l => l.StartsWith("error: ", StringComparison.Ordinal));
            Assert.Contains("rank 0 (stage 0) failed: MpiTimeoutException: waited 3 s", error);
            try { await request; } catch (HttpRequestException) { }
        }
        finally
        {
            Signal(stuck, "KILL");
        }
    }

    /// <summary>A client of the job's server, once rank 0 says where it listens.</summary>
    private static async Task<HttpClient> ClientOf(Mpirun.Job job)
    {
        string line = job.WaitForError("serving ", Bound);
        string address = line[(line.IndexOf(" at http", StringComparison.Ordinal) + 4)..].Split(' ')[0];
        var client = new HttpClient { BaseAddress = new Uri(address), Timeout = Bound };
        using var models = await client.GetAsync("/v1/models");
        Assert.True(models.IsSuccessStatusCode);
        return client;
    }

    private static void Signal(int pid, string signal)
    {
        try
        {
            using var kill = Process.Start("kill", ["-" + signal, pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            kill.WaitForExit();
        }
        catch (System.ComponentModel.Win32Exception)
        {
        }
    }
}
