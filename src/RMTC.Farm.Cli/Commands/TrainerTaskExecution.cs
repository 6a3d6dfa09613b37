using System.Diagnostics;
using System.Reflection;
using RMTC.Farm.Core.Trainer;
using RMTC.Farm.Core.Training;
using RMTC.Farm.Training.Loop;
using RMTC.Farm.Training.Tasks;

namespace RMTC.Farm.Cli.Commands;

/// <summary>
/// One task as both trainers run it (<c>rmtc shard run</c> once, <c>rmtc trainer serve</c> again and again): the work
/// by its kind and the messages that report it, ended by exactly one result, evaluation, checkpoint or error. The exit
/// code is the cold trainer's; a warm trainer only reads it back into its log.
/// </summary>
internal static class TrainerTaskExecution
{
    /// <summary>The rmtc version a trainer announces in its hello.</summary>
    public static string? RmtcVersion { get; } =
        typeof(TrainerTaskExecution).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;

    /// <summary>
    /// Runs <paramref name="task"/>, reporting to <paramref name="agent"/>; <paramref name="stop"/> cancels between
    /// batches, <paramref name="yieldRequested"/> stops with a checkpoint. <paramref name="caches"/> are a warm trainer's
    /// samples and models (null for a cold one). Returns one of <see cref="TrainerExitCodes"/>.
    /// </summary>
    public static int Run(ShardTask task, TrainerMessageWriter agent, CancellationToken stop, CancellationToken yieldRequested, TrainerCaches? caches)
    {
        var clock = Stopwatch.StartNew();
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

            var result = ShardTrainer.Run(task, new SyncProgress(p => agent.Write(new TrainerProgress(p))), stop, yieldRequested, caches,
                _ => agent.Write(new TrainerStarted(clock.Elapsed.TotalSeconds, Warm: caches is not null)));
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

    /// <summary>Ends <paramref name="stop"/> when the agent that started this trainer is gone (reparented), so no orphan keeps a GPU.</summary>
    public static async Task WatchParentAsync(CancellationTokenSource stop, string what)
    {
        var original = GetParentPid();
        while (!stop.IsCancellationRequested)
        {
            await Task.Delay(1000);
            if (GetParentPid() != original)
            {
                Console.Error.WriteLine($"the agent that started this {what} is gone: stopping");
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
