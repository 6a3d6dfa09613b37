using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using RMTC.Farm.Agent.Execution.Supervision;
using RMTC.Farm.Core.Trainer;
using RMTC.Farm.Core.Training;

namespace RMTC.Farm.Integration.Tests.Execution;

/// <summary>
/// The trainer's supervision on real child processes (small shell scripts standing in for <c>rmtc shard run</c>):
/// SIGTERM then SIGKILL after the grace to the whole group, SIGUSR1 after the hello, the protocol read and checked.
/// </summary>
public sealed class TrainerSupervisorTests : IDisposable
{
    private static readonly string Hello = TrainerProtocol.Format(new TrainerHello(TrainerProtocol.Version, "test"));
    private readonly string _dir = Directory.CreateTempSubdirectory("rmtc-supervisor-").FullName;
    private readonly TrainerSupervisor _supervisor = new(TimeProvider.System, NullLogger<TrainerSupervisor>.Instance);

    [Fact]
    public async Task A_trainer_that_ignores_SIGTERM_is_killed_with_its_whole_group_after_the_grace()
    {
        // Ignores SIGTERM (inherited by the helper it starts), then says where it is and hangs.
        var script = $"trap '' TERM; sleep 600 >/dev/null 2>&1 & echo \"$$ $!\" > {_dir}/pids.tmp; mv {_dir}/pids.tmp {_dir}/pids; echo '{Hello}'; wait";
        using var cancel = new CancellationTokenSource();
        var grace = TimeSpan.FromMilliseconds(1500);
        var run = _supervisor.RunAsync(Launch(script, grace), _ => { }, CancellationToken.None, cancel.Token);
        var pids = await PidsAsync();

        var stopping = Stopwatch.StartNew();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);

        Assert.True(stopping.Elapsed >= grace - TimeSpan.FromMilliseconds(100), $"killed after {stopping.Elapsed}, before the grace of {grace}");
        Assert.True(stopping.Elapsed < grace + TimeSpan.FromSeconds(10), $"still running {stopping.Elapsed} after the cancellation");
        await FarmFixture.WaitUntilAsync(() => pids.All(p => !Alive(p)), TimeSpan.FromSeconds(10),
            () => $"the trainer's group outlived SIGKILL: {string.Join(", ", pids.Where(Alive))}");
    }

    [Fact]
    public async Task A_trainer_that_honours_SIGTERM_stops_at_once_not_after_the_grace()
    {
        var script = $"trap 'exit 143' TERM; sleep 600 >/dev/null 2>&1 & echo \"$$ $!\" > {_dir}/pids.tmp; mv {_dir}/pids.tmp {_dir}/pids; echo '{Hello}'; wait";
        using var cancel = new CancellationTokenSource();
        var run = _supervisor.RunAsync(Launch(script, TimeSpan.FromSeconds(60)), _ => { }, CancellationToken.None, cancel.Token);
        var pids = await PidsAsync();

        var stopping = Stopwatch.StartNew();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);

        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(30), $"took {stopping.Elapsed}: SIGTERM was not sent first");
        // SIGTERM went to the group: the helper (default action) ended with it.
        await FarmFixture.WaitUntilAsync(() => pids.All(p => !Alive(p)), TimeSpan.FromSeconds(10),
            () => $"still running after SIGTERM to the group: {string.Join(", ", pids.Where(Alive))}");
    }

    [Fact]
    public async Task A_trainer_speaking_another_protocol_version_is_stopped_and_refused_naming_both()
    {
        var other = TrainerProtocol.Format(new TrainerHello(TrainerProtocol.Version + 1, "9.0.0"));
        var script = $"echo '{other}'; echo '{TrainerProtocol.Format(new TrainerProgress(new TrainingProgress(1, 1, 1, 2, 0.5)))}'; exec sleep 600";
        var progress = new List<TrainingProgress>();
        var stopping = Stopwatch.StartNew();

        var exit = await _supervisor.RunAsync(Launch(script, TimeSpan.FromSeconds(60)), progress.Add, CancellationToken.None, CancellationToken.None);

        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(30), $"refused only after {stopping.Elapsed}");
        Assert.Contains($"trainer protocol {TrainerProtocol.Version + 1} (rmtc 9.0.0) but this agent speaks {TrainerProtocol.Version}", exit.Refusal);
        Assert.Empty(progress);
    }

    [Fact]
    public async Task A_trainer_from_before_protocol_versions_is_refused()
    {
        var exit = await _supervisor.RunAsync(Launch("echo '{\"ready\":true}'; exec sleep 600", TimeSpan.FromSeconds(60)), _ => { }, CancellationToken.None, CancellationToken.None);

        Assert.Contains("trainer protocol 0 but this agent speaks", exit.Refusal);
    }

    [Fact]
    public async Task Messages_are_gathered_progress_relayed_and_lines_that_are_no_messages_reported()
    {
        var result = new ShardResult { Samples = 64, FinalLoss = 0.25, EpochLosses = [0.5, 0.25], Seconds = 1.5, Device = "cpu" };
        var script = string.Join("; ",
            $"echo '{Hello}'",
            "echo 'libfoo: warming up'",
            $"echo '{TrainerProtocol.Format(new TrainerProgress(new TrainingProgress(1, 2, 32, 128, 0.5)))}'",
            "echo '{\"type\":\"gpu\",\"index\":0}'",
            $"echo '{TrainerProtocol.Format(new TrainerResult(result))}'",
            "echo 'shard 0 of round 1: 64 samples' >&2");
        var progress = new List<TrainingProgress>();

        var exit = await _supervisor.RunAsync(Launch(script, TimeSpan.FromSeconds(10)), progress.Add, CancellationToken.None, CancellationToken.None);

        Assert.Equal(TrainerExitCodes.Completed, exit.Code);
        Assert.Null(exit.Refusal);
        Assert.Equivalent(result, exit.Result!.Result, strict: true);
        Assert.Equal([new TrainingProgress(1, 2, 32, 128, 0.5)], progress);
        Assert.Equal(2, exit.ProblemCount);
        Assert.Contains("not JSON: libfoo: warming up", exit.Problems[0]);
        Assert.Contains("unknown message type \"gpu\"", exit.Problems[1]);
        Assert.Equal("shard 0 of round 1: 64 samples", exit.ErrorTail);
        Assert.Contains("64 samples", await File.ReadAllTextAsync(Path.Combine(_dir, "trainer.log")));
    }

    [Fact]
    public async Task A_yield_is_signalled_once_the_trainer_said_hello_and_its_checkpoint_message_kept()
    {
        var checkpoint = TrainerProtocol.Format(new TrainerCheckpoint(new ShardYieldReport(1, 3, 96, 128), $"{_dir}/checkpoint.safetensors"));
        // SIGUSR1's default action would end it: only a trainer that said hello handles it.
        var script = $"trap 'kill $!; echo \"{checkpoint.Replace("\"", "\\\"", StringComparison.Ordinal)}\"; exit 75' USR1; sleep 600 >/dev/null 2>&1 & echo '{Hello}'; wait";
        using var yieldRequested = new CancellationTokenSource();
        await yieldRequested.CancelAsync();

        var exit = await _supervisor.RunAsync(Launch(script, TimeSpan.FromSeconds(10)), _ => { }, yieldRequested.Token, CancellationToken.None);

        Assert.Equal(TrainerExitCodes.Yielded, exit.Code);
        Assert.Equal(new ShardYieldReport(1, 3, 96, 128), exit.Checkpoint!.Position);
        Assert.Equal(0, exit.ProblemCount);
    }

    private TrainerLaunch Launch(string script, TimeSpan grace) => new("lease-test", "/bin/sh", ["-c", script], _dir, grace);

    /// <summary>The script's own pid and its helper's, once it wrote them.</summary>
    private async Task<int[]> PidsAsync()
    {
        var file = Path.Combine(_dir, "pids");
        await FarmFixture.WaitUntilAsync(() => File.Exists(file), TimeSpan.FromSeconds(30), () => "the script never started");
        return (await File.ReadAllTextAsync(file)).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToArray();
    }

    /// <summary>Whether the process runs (a zombie waiting for its parent counts as gone).</summary>
    private static bool Alive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)] != 'Z';
        }
        catch (IOException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
