using RMTC.Farm.Coordinator.Hosting;
using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Integration.Tests.OpenCue;

/// <summary>
/// What cueman -retry/-kill/-eat and CueGUI's job controls do, asked as pycue asks (grpcio, OpenCue's method paths and
/// messages), of a real coordinator with real agents: each call's effect on the run and on its manifest.
/// </summary>
public sealed class OpenCueActionsTests
{
    private const string JobName = "rnd-denoise-alice_train_denoiser";

    [Fact]
    public async Task Job_controls_comments_and_a_retried_frame_change_the_run_and_are_kept_in_its_manifest()
    {
        await using var farm = await FarmFixture.StartAsync();
        var data = farm.Synthesize("denoiser", 64);
        var spec = Path.Combine(farm.Root, "train.xml");
        await File.WriteAllTextAsync(spec, OpenCueEndpointTests.Spec(data, range: "1-2", paused: true));
        var address = $"{farm.App.OpenCueAddress()!.Host}:{farm.App.OpenCueAddress()!.Port}";
        var launch = await CallsAsync(address, $"launch={spec}", $"find={JobName}");
        var id = launch[1]["find ok ".Length..];
        var layer = $"{id}/train";
        var failed = $"Failed to retry frames of job '{JobName}' ({id}): ";

        // Launched paused, no agent: the controls and comments take effect at once; frames are not queued yet.
        var paused = await CallsAsync(address,
            $"services={layer}", $"jobinfo={id}", $"setpriority={id}@7", $"setmaxretries={id}@4", $"comment={id}@seeds@seed 5 is the baseline",
            $"comments={id}", $"jobinfo={id}", $"retryframe={id}/1", $"setpriority={id}@-1", $"setmaxretries={id}@500");
        Assert.Equal(["services ok shell", "jobinfo ok 1:False", "setpriority ok", "setmaxretries ok", "comment ok", "comments ok alice:seeds:seed 5 is the baseline", "jobinfo ok 7:True"], paused[..7]);
        Assert.Equal($"retryframe FAILED_PRECONDITION {failed}the run is being prepared (its initial weights are built first): its shards are not queued yet", paused[7]);
        Assert.Equal($"setpriority INVALID_ARGUMENT Failed to set the priority of job '{JobName}' ({id}): priority must be 0 or more (got -1): higher numbers are served first", paused[8]);
        Assert.StartsWith("setmaxretries INVALID_ARGUMENT", paused[9]);

        // One agent: resumed until frame 1 runs, then paused again, so frame 1 succeeds while frame 2 waits and the round stays open.
        await farm.StartAgentsAsync(1);
        await CallsAsync(address, $"resume={id}", "waitprocs=0001-train|", $"pause={id}");
        var open = await CallsAsync(address, $"waitframes={layer}@0001-train:SUCCEEDED", $"retryframe={id}/2", $"killframe={id}/2", $"eatframes={id}", $"retryframes={id}@DEAD", $"eatframes={id}@9", $"retryframe={id}/1", $"layerframes={layer}");
        Assert.Equal("waitframes ok 0001-train:SUCCEEDED:0:agent-1,0002-train:WAITING:0:", open[0]);
        Assert.Equal($"retryframe FAILED_PRECONDITION {failed}nothing to retry: frame 0002-train is already waiting for an agent", open[1]);
        Assert.Equal($"killframe FAILED_PRECONDITION Failed to kill frames of job '{JobName}' ({id}): nothing to kill: frame 0002-train is waiting: no attempt of it runs", open[2]);
        Assert.StartsWith($"eatframes FAILED_PRECONDITION Failed to eat frames of job '{JobName}' ({id}): FedAvg cannot close round 1 without frame 0001-train, frame 0002-train: the job's round policy waits for every shard's result (round_policy close: all)", open[3]);
        // CueGUI's Retry Dead Frames with no dead frame, or a range with no frame: nothing is done, as on Cuebot.
        Assert.Equal(["retryframes ok", "eatframes ok"], open[4..6]);
        Assert.Equal(["retryframe ok", "layerframes ok 0001-train:WAITING:0:agent-1,0002-train:WAITING:0:"], open[6..]);

        await CallsAsync(address, $"resume={id}");
        await FarmFixture.WaitUntilAsync(() => farm.Scheduler.ViewRun(id)!.IsFinal, TimeSpan.FromMinutes(3), farm.AgentLogs);
        await farm.Scheduler.FlushAsync();
        var manifest = farm.Scheduler.GetManifest(id)!;
        Assert.Equal(RunStates.Succeeded, manifest.State);
        var round = manifest.Rounds[0];
        var frame1 = round.Attempts.Where(a => a.Shard == 0).ToList();
        Assert.Equal([AttemptOutcomes.Retried, AttemptOutcomes.Succeeded], frame1.Select(a => a.Outcome));
        Assert.Equal("an OpenCue client at 127.0.0.1", frame1[0].StoppedBy);
        Assert.Equal(2, round.MergedResults.Count);
        // The merge holds the second attempt's result (with the same seed and input it may well be the same bytes again).
        Assert.Contains(frame1[1].ResultDigest, round.MergedResults);
        Assert.Equal(2, frame1.Count(a => a.ResultDigest is not null));
        Assert.Equal((7, 4), (manifest.Controls!.Priority, manifest.Controls.MaxRetries));
        Assert.Equal(("alice", "seeds"), (manifest.Comments![0].User, manifest.Comments[0].Subject));

        // The wrangler's actions are in the run's lineage as the CLI shows it; an ended run takes no more.
        var show = await RmtcCli.RunAsync(TimeSpan.FromMinutes(1), "lineage", "show", id, "--coordinator", farm.Address);
        Assert.Contains("retried by an OpenCue client at 127.0.0.1", show.Output);
        Assert.Contains("controls   priority 7, max retries 4 (set after submission)", show.Output);
        Assert.Contains("comment 1  alice at ", show.Output);
        var ended = await CallsAsync(address, $"layerretry={layer}", $"comment={id}@late@x", $"comments={id}");
        Assert.Equal($"layerretry FAILED_PRECONDITION {failed}the job has finished (succeeded) and its run's manifest is sealed (hash-chained and signed), so no frame of it can be retried: rmtc does not revive a finished job as Cuebot does. To train it again, launch its spec again as a new job (pycue's launchSpec, pyoutline's cuerun, or rmtc submit SPEC); the new job starts from its first round, on the same data with the same seed", ended[0]);
        Assert.StartsWith("comment FAILED_PRECONDITION", ended[1]);
        Assert.Equal("comments ok alice:seeds:seed 5 is the baseline", ended[2]);
    }

    [Fact]
    public async Task A_killed_frame_runs_again_and_an_eaten_frame_leaves_the_round_which_closes_with_the_others()
    {
        await using var farm = await FarmFixture.StartAsync();
        var data = farm.Synthesize("classifier", 60);
        // Attempts that take seconds, so the frames are surely running when the calls come.
        await farm.StartAgentsAsync(2, "sim", new Dictionary<string, string> { ["RMTC_Agent__SimulateTrainingMs"] = "8000" });
        var job = await farm.SubmitAsync($"name: quorum-run\nrecipe: classifier\ndataset: {data}\nshards: 3\nrounds: 1\nround_policy:\n  close: quorum\n  quorum: 2\n  deadline: 1h\n");
        var address = $"{farm.App.OpenCueAddress()!.Host}:{farm.App.OpenCueAddress()!.Port}";
        var layer = $"{job.Id}/train";

        var frames = (await CallsAsync(address, $"waitframes={layer}@RUNNING:0:sim-2"))[0]["waitframes ok ".Length..].Split(',');
        var running = frames.Where(f => f.Contains(":RUNNING:", StringComparison.Ordinal)).Select(f => int.Parse(f[..4], System.Globalization.CultureInfo.InvariantCulture)).ToList();
        var waiting = frames.Where(f => f.Contains(":WAITING:", StringComparison.Ordinal)).Select(f => int.Parse(f[..4], System.Globalization.CultureInfo.InvariantCulture)).Single();
        Assert.Equal(2, running.Count);

        // The job declares no memory: each proc shows 1K reserved (cueadmin divides by it), and its host's idle memory is its memory less that 1K.
        var reserved = await CallsAsync(address, "procs", "hostmem=sim-1", "hostmem=sim-2");
        Assert.All(reserved[0]["procs ok ".Length..].Split(','), p => Assert.EndsWith("-train|" + p.Split('|')[3] + "|1", p));
        Assert.All(reserved[1..], line =>
        {
            var kb = line.Split(' ')[2].Split(':').Select(long.Parse).ToList();
            Assert.True(kb[0] > 0, line);
            Assert.Equal([kb[0], kb[0] - 1, kb[0] - 1], kb);
        });

        // The waiting frame is eaten (the quorum of 2 still holds); eating a running one too is refused. Then a running frame is killed.
        var acted = await CallsAsync(address, $"eatframe={job.Id}/{waiting}", $"eatframe={job.Id}/{running[0]}", $"killframe={job.Id}/{running[0]}", $"layerframes={layer}");
        Assert.Equal("eatframe ok", acted[0]);
        Assert.StartsWith($"eatframe FAILED_PRECONDITION Failed to eat frames of job 'quorum-run' ({job.Id}): eating frame {running[0]:0000}-train would leave 1 of round 1's 3 shards, under the quorum of 2", acted[1]);
        Assert.Equal("killframe ok", acted[2]);
        Assert.Contains($"{waiting:0000}-train:EATEN", acted[3]);

        var done = await farm.WaitAsync(job.Id, TimeSpan.FromMinutes(3));
        Assert.Equal(RMTC.Farm.Protos.V1.JobState.Succeeded, done.State);
        var manifest = farm.Scheduler.GetManifest(job.Id)!;
        var round = manifest.Rounds[0];
        var killedShard = running[0] - 1;
        var killed = round.Attempts.Where(a => a.Shard == killedShard).ToList();
        Assert.Equal([AttemptOutcomes.Killed, AttemptOutcomes.Succeeded], killed.Select(a => a.Outcome));
        Assert.Equal("mallory", killed[0].StoppedBy);
        Assert.Contains("killed by mallory (OpenCue from 127.0.0.1 (host ws-07, pid 4242)): stuck", killed[0].Error);
        Assert.DoesNotContain(round.Attempts, a => a.Shard == waiting - 1);
        Assert.Equal(2, round.MergedResults.Count);
        var eaten = Assert.Single(round.Quorum!.Eaten!);
        Assert.Equal((waiting - 1, "an OpenCue client at 127.0.0.1"), (eaten.Shard, eaten.By));
        Assert.Equal([waiting - 1], round.Quorum.UnmergedShards);
        Assert.Equal(2, round.Quorum.Merged);
    }

    private static async Task<string[]> CallsAsync(string address, params string[] calls) => [.. await PycueCalls.RunAsync(address, calls)];
}
