using System.CommandLine;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json;
using RMTC.Farm.Core.Trainer;
using RMTC.Farm.Core.Training;
using RMTC.Farm.Training.Loop;
using RMTC.Farm.Training.Tasks;

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
        _ = WatchParentAsync(stop);
        // Tells the agent our protocol, and that SIGUSR1 is handled from now on (before this, its default action would end the process).
        agent.WriteHello(typeof(ShardCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion);

        try
        {
            if (task.Kind == ShardTaskKinds.Prepare)
            {
                var prepared = RunInitialisation.Run(task);
                agent.Write(new TrainerResult(prepared));
                Console.Error.WriteLine($"run {task.RunId}: initial weights written in {prepared.Seconds:F1} s (TorchSharp {prepared.TorchSharpVersion})");
                return TrainerExitCodes.Completed;
            }

            if (task.Kind == ShardTaskKinds.Evaluate)
            {
                var figures = HeldOutEvaluation.Run(task);
                agent.Write(new TrainerEvaluation(figures));
                Console.Error.WriteLine($"run {task.RunId} round {task.Round}: evaluation loss {figures.Loss:G5} on {figures.Samples} samples, {figures.Seconds:F1} s on {figures.Device}");
                return TrainerExitCodes.Completed;
            }

            var result = ShardTrainer.Run(task, new SyncProgress(p => agent.Write(new TrainerProgress(p))), stop.Token, yieldRequested.Token);
            agent.Write(new TrainerResult(result));
            Console.Error.WriteLine($"shard {task.Shard} of round {task.Round}: {result.Samples} samples, loss {result.FinalLoss:G5}, {result.Seconds:F1} s on {result.Device}");
            return TrainerExitCodes.Completed;
        }
        catch (ShardYieldedException e)
        {
            // The agent sends this position in its ShardYielded message; the exit code tells it a checkpoint (may) exist.
            agent.Write(new TrainerCheckpoint(e.Report, e.CheckpointPath));
            Console.Error.WriteLine($"yielded to rendering: {e.Message}{(e.CheckpointPath is null ? ", no checkpoint asked for" : $", checkpoint {e.CheckpointPath}")}");
            return TrainerExitCodes.Yielded;
        }
        catch (ScriptedModelRefusedException e)
        {
            // The run's model cannot be trained on its data: the agent reports this as final, with these problems.
            agent.Write(new TrainerError(e.Message, Refused: true, e.Problems));
            foreach (var problem in e.Problems)
            {
                Console.Error.WriteLine($"refused: {problem}");
            }

            return TrainerExitCodes.Refused;
        }
        catch (OperationCanceledException)
        {
            agent.Write(new TrainerError("cancelled", Refused: false, []));
            Console.Error.WriteLine("cancelled");
            return TrainerExitCodes.Cancelled;
        }
        catch (Exception e)
        {
            agent.Write(new TrainerError($"{e.GetType().Name}: {e.Message}", Refused: false, []));
            Console.Error.WriteLine($"error: {e.GetType().Name}: {e.Message}");
            return TrainerExitCodes.Failed;
        }
    }

    /// <summary>Ends training when the agent that started us is gone (reparented), so no orphan keeps a GPU.</summary>
    private static async Task WatchParentAsync(CancellationTokenSource stop)
    {
        var original = GetParentPid();
        while (!stop.IsCancellationRequested)
        {
            await Task.Delay(1000);
            if (GetParentPid() != original)
            {
                Console.Error.WriteLine("the agent that started this shard is gone: stopping");
                await stop.CancelAsync();
                return;
            }
        }
    }

    private static int GetParentPid()
    {
        try
        {
            // Field 4 of /proc/self/stat is the parent pid; the command name (field 2) is parenthesised and may hold spaces.
            var stat = File.ReadAllText("/proc/self/stat");
            var afterName = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return int.Parse(afterName[1], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or FormatException or IndexOutOfRangeException or UnauthorizedAccessException)
        {
            return -1;
        }
    }

    /// <summary>Reports on the calling thread, in order (Progress&lt;T&gt; posts to the thread pool and may reorder).</summary>
    private sealed class SyncProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
