using System.CommandLine;
using System.Runtime.InteropServices;
using System.Text.Json;
using RMTC.Farm.Core.Trainer;
using RMTC.Farm.Core.Training;

namespace RMTC.Farm.Cli.Commands;

/// <summary>
/// <c>rmtc shard run --task FILE</c>: the child process an agent starts for one shard attempt (like a render frame), or
/// for one of the run's tasks leased like a shard (its preparation, a round's evaluation: <see cref="ShardTask.Kind"/>).
/// It reports on stdout in the typed <see cref="TrainerProtocol"/> (hello, progress, then a result, an evaluation, a
/// checkpoint or an error), logs to stderr, and exits with one of <see cref="TrainerExitCodes"/>: 0 only with the
/// result files written and the result message sent.
/// </summary>
internal static class ShardCommand
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>SIGUSR1 (10 on Linux): .NET takes raw signal numbers cast to <see cref="PosixSignal"/>.</summary>
    private const PosixSignal YieldSignal = (PosixSignal)10;

    public static Command Create()
    {
        var task = new Option<FileInfo>("--task") { Description = "task.json written by the agent", Required = true };
        var run = new Command("run", "Train one shard attempt described by a task file (started by agents).") { task };
        run.SetAction((parse, ct) => Task.FromResult(Run(parse.GetRequiredValue(task), ct)));
        var shard = new Command("shard", "Shard runner used by agents (not for direct use).") { Hidden = true };
        shard.Subcommands.Add(run);
        return shard;
    }

    private static int Run(FileInfo taskFile, CancellationToken ct)
    {
        ShardTask? task;
        try
        {
            task = JsonSerializer.Deserialize<ShardTask>(File.ReadAllText(taskFile.FullName), Json);
        }
        catch (Exception e) when (e is IOException or JsonException)
        {
            Console.Error.WriteLine($"error: cannot read task {taskFile.FullName}: {e.Message}");
            return TrainerExitCodes.BadTask;
        }

        if (task is null)
        {
            Console.Error.WriteLine($"error: task {taskFile.FullName} is empty");
            return TrainerExitCodes.BadTask;
        }

        var agent = new TrainerMessageWriter(Console.Out);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        // SIGTERM from the agent (cancel or preempt) stops training between batches instead of killing mid-write.
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
        {
            c.Cancel = true;
            stop.Cancel();
        });
        // SIGUSR1 from the agent (its node yields to rendering) stops before the next batch and writes a checkpoint.
        using var yieldRequested = new CancellationTokenSource();
        using var sigusr1 = PosixSignalRegistration.Create(YieldSignal, c =>
        {
            c.Cancel = true;
            yieldRequested.Cancel();
        });
        _ = TrainerTaskExecution.WatchParentAsync(stop, "shard");
        // Tells the agent our protocol, and that SIGUSR1 is handled from now on (before this, its default action would end the process).
        agent.WriteHello(TrainerTaskExecution.RmtcVersion);
        return TrainerTaskExecution.Run(task, agent, stop.Token, yieldRequested.Token, caches: null);
    }
}
