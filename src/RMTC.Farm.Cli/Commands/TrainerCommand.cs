using System.CommandLine;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using RMTC.Farm.Core.Trainer;
using RMTC.Farm.Training.Loop;
using TorchSharp;

namespace RMTC.Farm.Cli.Commands;

/// <summary>
/// <c>rmtc trainer serve</c>: a long-lived trainer an agent keeps per slot (a warm trainer). It loads libtorch once,
/// reads <see cref="TrainerRequest"/>s from standard input (a task per shard, cancel and yield by message) and answers
/// each task with the messages <c>rmtc shard run</c> writes, ended by a result, evaluation, checkpoint or error.
/// Between tasks it keeps the device, a bounded cache of decoded samples (<c>--cache-bytes</c>) and the last models it
/// trained. It ends when its standard input closes (the agent retires it or is gone), on SIGTERM (its current task
/// stops between batches), or when the agent that started it is gone.
/// </summary>
internal static class TrainerCommand
{
    /// <summary>SIGUSR1 (10 on Linux): .NET takes raw signal numbers cast to <see cref="PosixSignal"/>.</summary>
    private const PosixSignal YieldSignal = (PosixSignal)10;

    /// <summary>Models kept between tasks (a node usually trains one run's model at a time; two spare a rebuild when runs alternate).</summary>
    private const int ModelsKept = 2;

    /// <summary>libtorch's default seed: what a fresh <c>rmtc shard run</c> process starts with, restored before each task.</summary>
    private const long LibtorchDefaultSeed = 67280421310721;

    public static Command Create()
    {
        var cacheBytes = new Option<long>("--cache-bytes")
        {
            Description = "Most bytes of decoded samples kept between tasks (0: none)",
            DefaultValueFactory = _ => 0,
        };
        var serve = new Command("serve", "Run tasks read from standard input, one after another, keeping libtorch and decoded samples warm (started by agents).") { cacheBytes };
        serve.SetAction((parse, ct) => Task.FromResult(Serve(parse.GetValue(cacheBytes), ct)));
        var trainer = new Command("trainer", "Long-lived trainer used by agents (not for direct use).") { Hidden = true };
        trainer.Subcommands.Add(serve);
        return trainer;
    }

    private static int Serve(long cacheBytes, CancellationToken ct)
    {
        if (cacheBytes < 0)
        {
            Console.Error.WriteLine($"error: --cache-bytes must be 0 or more, got {cacheBytes} (Agent:Trainer:CacheBytes)");
            return TrainerExitCodes.BadTask;
        }

        var agent = new TrainerMessageWriter(Console.Out);
        using var models = new ModelCache(ModelsKept);
        var caches = new TrainerCaches(new SampleCache(cacheBytes), models);
        var samples = caches.Samples;
        using var stopAll = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var current = new CurrentTask();
        var terminated = false;
        // SIGTERM (the agent's fallback, or a stop of the node) ends the task between batches, then the trainer.
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
        {
            c.Cancel = true;
            terminated = true;
            stopAll.Cancel();
        });
        // SIGUSR1 still yields the running task, as it does a cold trainer's.
        using var sigusr1 = PosixSignalRegistration.Create(YieldSignal, c =>
        {
            c.Cancel = true;
            current.Get()?.Yield.Cancel();
        });
        _ = TrainerTaskExecution.WatchParentAsync(stopAll, "trainer");

        // Load libtorch and the device before saying hello, so the first task starts warm.
        using (var warm = torch.ones(8, 8))
        using (var product = warm.matmul(warm))
        {
            _ = torch.cuda.is_available();
        }

        var threads = torch.get_num_threads();
        var tasks = Channel.CreateUnbounded<RunningTask>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var reader = new Thread(() => ReadRequests(tasks.Writer, current, stopAll)) { IsBackground = true, Name = "trainer requests" };
        agent.WriteHello(TrainerTaskExecution.RmtcVersion);
        reader.Start();

        var served = 0;
        while (!stopAll.IsCancellationRequested && WaitToRead(tasks.Reader, stopAll.Token) && tasks.Reader.TryRead(out var run))
        {
            // Each task starts as it would in a fresh process: the same generator state, the same thread count.
            torch.manual_seed(LibtorchDefaultSeed);
            torch.set_num_threads(threads);
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(stopAll.Token, run.Stop.Token);
            int code;
            try
            {
                code = TrainerTaskExecution.Run(run.Request.Task, agent, stop.Token, run.Yield.Token, caches);
            }
            catch (IOException e)
            {
                // Standard output is gone with the agent that read it: nobody is left to report to.
                Console.Error.WriteLine($"the agent stopped reading: {e.Message}");
                return TrainerExitCodes.Cancelled;
            }

            current.Clear(run);
            Console.Error.WriteLine($"task {run.Request.Id} ended ({code}); {++served} served; sample cache {samples.Bytes / 1e6:F1} of {samples.CapacityBytes / 1e6:F1} MB, {samples.Count} samples, {samples.Hits} hits, {samples.Misses} misses; {models.Hits} models reused");
        }

        // The end of input is the agent retiring this trainer; a signal or a lost agent is a stop.
        return terminated || ct.IsCancellationRequested ? TrainerExitCodes.Cancelled : TrainerExitCodes.Completed;
    }

    private static bool WaitToRead(ChannelReader<RunningTask> reader, CancellationToken ct)
    {
        try
        {
            return reader.WaitToReadAsync(ct).AsTask().GetAwaiter().GetResult();
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>
    /// Reads the agent's requests as they come (so a cancel or yield reaches the task it names while it trains); a task
    /// becomes current as soon as it is read, so a cancel right behind it finds it. The end of input ends the trainer.
    /// </summary>
    private static void ReadRequests(ChannelWriter<RunningTask> tasks, CurrentTask current, CancellationTokenSource stopAll)
    {
        try
        {
            while (Console.In.ReadLine() is { } line)
            {
                if (line.Length == 0)
                {
                    continue;
                }

                var (request, problem) = TrainerProtocol.ParseRequest(line);
                switch (request)
                {
                    case TrainerTaskRequest task:
                        var run = new RunningTask(task);
                        current.Set(run);
                        tasks.TryWrite(run);
                        break;
                    case TrainerCancelRequest cancel:
                        current.Get(cancel.Id)?.Stop.Cancel();
                        break;
                    case TrainerYieldRequest yield:
                        current.Get(yield.Id)?.Yield.Cancel();
                        break;
                    default:
                        Console.Error.WriteLine($"ignored: {problem}");
                        break;
                }
            }
        }
        finally
        {
            // No more tasks can come: the running one (if any) stops, and the trainer ends.
            current.Get()?.Stop.Cancel();
            tasks.TryComplete();
            stopAll.Cancel();
        }
    }

    /// <summary>
    /// A task read from the agent, with its own cancel and yield (never disposed: a late cancel from the reading thread
    /// may still land on them, and they hold no timer).
    /// </summary>
    private sealed class RunningTask(TrainerTaskRequest request)
    {
        public TrainerTaskRequest Request { get; } = request;
        public CancellationTokenSource Stop { get; } = new();
        public CancellationTokenSource Yield { get; } = new();
    }

    /// <summary>The task a cancel or yield can name (at most one: the agent sends the next only after the last ended).</summary>
    private sealed class CurrentTask
    {
        private RunningTask? _task;

        public void Set(RunningTask task) => Volatile.Write(ref _task, task);

        public RunningTask? Get() => Volatile.Read(ref _task);

        public RunningTask? Get(string id) => Get() is { } task && string.Equals(task.Request.Id, id, StringComparison.Ordinal) ? task : null;

        public void Clear(RunningTask task) => Interlocked.CompareExchange(ref _task, null, task);
    }
}
