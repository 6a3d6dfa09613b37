using Grpc.Core;
using Grpc.Net.Client;
using RMTC.Farm.Coordinator.Hosting;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Protos.OpenCue;
using RMTC.Farm.Protos.V1;
using JobState = RMTC.Farm.Protos.OpenCue.JobState;
using OpenCueJob = RMTC.Farm.Protos.OpenCue.Job;

namespace RMTC.Farm.Integration.Tests.OpenCue;

/// <summary>
/// The coordinator as pycue sees it: a client generated from our OpenCue-compatible protos, on the OpenCue port,
/// against real agents training for real.
/// </summary>
public sealed class OpenCueEndpointTests
{
    internal static string Spec(string dataset, string range = "1-3", bool paused = false, string user = "alice") => $"""
        <?xml version="1.0"?>
        <!DOCTYPE spec PUBLIC "SPI Cue  Specification Language" "http://localhost:8080/spcue/dtd/cjsl-1.15.dtd">
        <spec>
          <facility>local</facility><show>rnd</show><shot>denoise</shot><user>{user}</user><uid>1000</uid>
          <job name="train-denoiser">
            <paused>{(paused ? "True" : "False")}</paused><priority>1</priority><maxretries>2</maxretries><autoeat>False</autoeat><env />
            <layers>
              <layer name="train" type="Render">
                <cmd>rmtc train --recipe denoiser --dataset {dataset} --rounds 1 --seed 5 --epochs 2 --batch-size 8</cmd>
                <range>{range}</range><chunk>1</chunk><memory>1g</memory>
                <env><key name="RMTC_LEARNING_RATE">0.02</key></env>
                <services><service>shell</service></services><outputs />
              </layer>
            </layers>
          </job>
          <depends />
        </spec>
        """;

    [Fact]
    public async Task A_pycue_client_launches_finds_and_follows_a_training_job_until_it_is_finished()
    {
        await using var farm = await FarmFixture.StartAsync();
        var data = farm.Synthesize("denoiser", 96);
        using var channel = GrpcChannel.ForAddress(farm.App.OpenCueAddress()!);
        var cue = new CueInterface.CueInterfaceClient(channel);
        var jobs = new JobInterface.JobInterfaceClient(channel);

        // pycue's connection probe.
        Assert.NotNull((await cue.GetSystemStatsAsync(new CueGetSystemStatsRequest())).Stats);

        // Launched paused, so the frames are seen WAITING before any agent can take them.
        var launched = Assert.Single((await jobs.LaunchSpecAndWaitAsync(new JobLaunchSpecAndWaitRequest { Spec = Spec(data, paused: true) })).Jobs.Jobs);
        Assert.Equal(("rnd-denoise-alice_train_denoiser", JobState.Pending, true), (launched.Name, launched.State, launched.IsPaused));
        Assert.Equal(("rnd", "denoise", "alice", 1000, 3), (launched.Show, launched.Shot, launched.User, launched.Uid, launched.JobStats.TotalFrames));

        var found = (await jobs.FindJobAsync(new JobFindJobRequest { Name = "rnd-denoise-alice_train_denoiser" })).Job;
        Assert.Equal(launched.Id, found.Id);
        Assert.True((await jobs.IsJobPendingAsync(new JobIsJobPendingRequest { Name = found.Name })).Value);
        var layer = Assert.Single((await jobs.GetLayersAsync(new JobGetLayersRequest { Job = found })).Layers.Layers);
        Assert.Equal(("train", "1-3", 1024L * 1024), (layer.Name, layer.Range, layer.MinMemory));

        var first = await FramesAsync(jobs, found);
        Assert.Equal([1, 2, 3], first.Select(f => f.Number));
        Assert.Equal(["0001-train", "0002-train", "0003-train"], first.Select(f => f.Name));
        Assert.All(first, f => Assert.Equal(FrameState.Waiting, f.State));

        await farm.StartAgentsAsync(2);
        var history = first.ToDictionary(f => f.Number, f => new List<FrameState> { f.State });
        await jobs.ResumeAsync(new JobResumeRequest { Job = found });

        // Follow as CueGUI does: poll the frames until the job is finished.
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
        OpenCueJob job;
        do
        {
            foreach (var frame in await FramesAsync(jobs, found))
            {
                if (history[frame.Number][^1] != frame.State)
                {
                    history[frame.Number].Add(frame.State);
                }
            }

            job = (await jobs.GetJobAsync(new JobGetJobRequest { Id = found.Id })).Job;
            Assert.True(DateTime.UtcNow < deadline, $"job not finished: {job}\n{farm.AgentLogs()}");
            await Task.Delay(20);
        }
        while (job.State != JobState.Finished);

        var last = await FramesAsync(jobs, found);
        foreach (var frame in last)
        {
            if (history[frame.Number][^1] != frame.State)
            {
                history[frame.Number].Add(frame.State);
            }
        }

        var sequences = string.Join("; ", history.Select(h => $"{h.Key}: {string.Join(" > ", h.Value)}"));
        Assert.All(history.Values, h => Assert.Equal(FrameState.Waiting, h[0]));
        Assert.All(history.Values, h => Assert.Equal(FrameState.Succeeded, h[^1]));
        // Each shard trains for a while on a real agent, so the poll sees it running.
        Assert.True(history.Values.Count(h => h.Contains(FrameState.Running)) >= 1, sequences);
        Assert.All(history.Values, h => Assert.DoesNotContain(FrameState.Dead, h));
        Assert.All(last, f => Assert.True(f.StartTime > 0 && f.StopTime >= f.StartTime, $"frame {f.Number}: {f.StartTime}..{f.StopTime}"));
        Assert.Equal((3, 3, 0), (job.JobStats.TotalFrames, job.JobStats.SucceededFrames, job.JobStats.WaitingFrames));
        Assert.False((await jobs.IsJobPendingAsync(new JobIsJobPendingRequest { Name = found.Name })).Value);

        var search = (await jobs.GetJobsAsync(new JobGetJobsRequest { R = new JobSearchCriteria { Shows = { "rnd" }, Users = { "alice" }, IncludeFinished = true } })).Jobs.Jobs;
        Assert.Equal(found.Id, Assert.Single(search).Id);
        Assert.Empty((await jobs.GetJobsAsync(new JobGetJobsRequest { R = new JobSearchCriteria { Shows = { "rnd" } } })).Jobs.Jobs);

        // The run's lineage is recorded as for any other submission: a sealed manifest with its OpenCue origin and a verifiable chain.
        await farm.Scheduler.FlushAsync();
        var manifest = farm.Scheduler.GetManifest(found.Id)!;
        Assert.Equal(RunStates.Succeeded, manifest.State);
        Assert.NotNull(manifest.FinalModelDigest);
        Assert.NotNull(manifest.Seal);
        Assert.Equal(("alice", "rnd-denoise-alice_train_denoiser", "1-3"), (manifest.SubmittedBy, manifest.Spec!.OpenCue!.JobName, manifest.Spec.OpenCue.Range));
        Assert.Equal(3, manifest.Rounds[0].Shards.Count);
        var lineage = new LineageService.LineageServiceClient(farm.Channel);
        Assert.True((await lineage.VerifyAsync(new LineageRunRequest { RunId = found.Id })).Ok);
    }

    [Fact]
    public async Task Errors_come_as_cuebot_gives_them_and_each_port_serves_only_its_own_services()
    {
        await using var farm = await FarmFixture.StartAsync();
        var data = farm.Synthesize("denoiser", 12);
        using var channel = GrpcChannel.ForAddress(farm.App.OpenCueAddress()!);
        var jobs = new JobInterface.JobInterfaceClient(channel);

        var bad = await Assert.ThrowsAsync<RpcException>(() => jobs.LaunchSpecAsync(new JobLaunchSpecRequest { Spec = Spec(data, user: "root") }).ResponseAsync);
        Assert.Equal(StatusCode.Internal, bad.StatusCode);
        Assert.StartsWith("Failed to launch and add job: ", bad.Status.Detail);
        Assert.Contains("Cannot launch jobs as root.", bad.Status.Detail);

        var relative = await Assert.ThrowsAsync<RpcException>(() => jobs.LaunchSpecAsync(new JobLaunchSpecRequest { Spec = Spec("datasets/patches") }).ResponseAsync);
        Assert.Contains("must be an absolute path", relative.Status.Detail);

        // One spec naming one job twice launches nothing: all or none, not its first copy.
        var single = Spec(data, range: "1-2", paused: true);
        var job0 = single[single.IndexOf("<job ", StringComparison.Ordinal)..(single.IndexOf("</job>", StringComparison.Ordinal) + "</job>".Length)];
        var twice = await Assert.ThrowsAsync<RpcException>(() => jobs.LaunchSpecAsync(new JobLaunchSpecRequest { Spec = single.Replace(job0, job0 + job0, StringComparison.Ordinal) }).ResponseAsync);
        Assert.Contains("is defined twice in this spec", twice.Status.Detail);
        Assert.Empty(farm.Scheduler.ListJobs());

        var missing = await Assert.ThrowsAsync<RpcException>(() => jobs.FindJobAsync(new JobFindJobRequest { Name = "rnd-denoise-alice_nothing" }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
        var missingId = await Assert.ThrowsAsync<RpcException>(() => jobs.GetFramesAsync(new JobGetFramesRequest { Job = new OpenCueJob { Id = "nope" } }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, missingId.StatusCode);

        // A paused job waits with no agent; Kill finishes it, and a second launch of the name is then allowed.
        var names = (await jobs.LaunchSpecAsync(new JobLaunchSpecRequest { Spec = Spec(data, range: "1-2", paused: true) })).Names;
        Assert.Equal(["rnd-denoise-alice_train_denoiser"], names);
        var duplicate = await Assert.ThrowsAsync<RpcException>(() => jobs.LaunchSpecAsync(new JobLaunchSpecRequest { Spec = Spec(data, range: "1-2", paused: true) }).ResponseAsync);
        Assert.Contains("is already pending", duplicate.Status.Detail);
        var job = (await jobs.FindJobAsync(new JobFindJobRequest { Name = names[0] })).Job;
        await jobs.KillAsync(new JobKillRequest { Job = job, Username = "wrangler", Reason = "wrong data" });
        var killed = (await jobs.GetJobAsync(new JobGetJobRequest { Id = job.Id })).Job;
        Assert.Equal(JobState.Finished, killed.State);
        Assert.All(await FramesAsync(jobs, killed), f => Assert.Equal(FrameState.Eaten, f.State));
        Assert.Contains("killed by wrangler via OpenCue from 127.0.0.1: wrong data", farm.Scheduler.GetManifest(job.Id)!.Error);

        // Our own services are not on the OpenCue port, and OpenCue's are not on ours.
        var ours = await Assert.ThrowsAsync<RpcException>(() => new JobService.JobServiceClient(channel).ListJobsAsync(new ListJobsRequest()).ResponseAsync);
        Assert.Equal(StatusCode.Unimplemented, ours.StatusCode);
        var theirs = await Assert.ThrowsAsync<RpcException>(() => new CueInterface.CueInterfaceClient(farm.Channel).GetSystemStatsAsync(new CueGetSystemStatsRequest()).ResponseAsync);
        Assert.Equal(StatusCode.Unimplemented, theirs.StatusCode);
    }

    [Fact]
    public async Task Rmtc_submit_takes_an_opencue_spec_with_a_relative_dataset()
    {
        await using var farm = await FarmFixture.StartAsync();
        var data = farm.Synthesize("denoiser", 12);
        var spec = Spec(Path.GetFileName(data), range: "1-2", paused: true);
        var submitted = (await farm.Jobs.SubmitJobAsync(new SubmitJobRequest { SpecYaml = spec, BaseDirectory = farm.Root, SourceName = "train.xml" })).Job;
        Assert.Equal(2u, submitted.Shards);
        Assert.Equal(data, farm.Scheduler.GetManifest(submitted.Id)!.Dataset.Path);
    }

    [Fact]
    public async Task Grpcio_the_library_pycue_is_built_on_talks_to_the_opencue_port()
    {
        await using var farm = await FarmFixture.StartAsync();
        var data = farm.Synthesize("denoiser", 12);
        var spec = Path.Combine(farm.Root, "probe.xml");
        var root = Path.Combine(farm.Root, "root.xml");
        await File.WriteAllTextAsync(spec, Spec(data, range: "1-2", paused: true));
        await File.WriteAllTextAsync(root, Spec(data, user: "root"));
        var address = farm.App.OpenCueAddress()!;

        // Debian's python3-grpcio (farm/scripts/test.sh installs it) lives with the system interpreter.
        var python = File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
        var info = new System.Diagnostics.ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "OpenCue", "pycue_probe.py"), $"{address.Host}:{address.Port}", spec, root })
        {
            info.ArgumentList.Add(arg);
        }

        using var process = System.Diagnostics.Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(90)).Token);
        var output = await stdout + await stderr;

        Assert.True(process.ExitCode == 0, output);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal("probe ok", lines[0]);
        Assert.StartsWith("launched rnd-denoise-alice_train_denoiser rnd-denoise-alice_train_denoiser-", lines[1]);
        Assert.EndsWith("state=0", lines[1]);
        Assert.Equal(["pending=1", "search=1", "after kill state=1"], lines[3..6]);
        Assert.StartsWith("refused INTERNAL Failed to launch and add job: ", lines[6]);
        Assert.Equal("missing NOT_FOUND", lines[7]);
    }

    private static async Task<IReadOnlyList<Frame>> FramesAsync(JobInterface.JobInterfaceClient jobs, OpenCueJob job) =>
        (await jobs.GetFramesAsync(new JobGetFramesRequest { Job = job, Req = new FrameSearchCriteria() })).Frames.Frames;
}
