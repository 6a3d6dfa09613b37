using System.Diagnostics;
using RMTC.Farm.Agent.Execution;
using RMTC.Farm.Agent.Hosting;
using RMTC.Farm.Core.Trainer;

namespace RMTC.Farm.Integration.Tests.Execution;

/// <summary>
/// Warm trainers (<c>rmtc trainer serve</c>) on real processes: the same weights as cold trainers, a crash or a hang
/// costs one shard and a fresh trainer, cancellation and preemption as on a cold trainer, recycling.
/// </summary>
public sealed class WarmTrainerPoolTests : IAsyncLifetime
{
    private readonly WarmTrainerFixture _fx = new();

    [Fact]
    public async Task Two_shards_in_a_row_on_one_warm_trainer_give_the_weights_of_two_cold_runs_bit_for_bit()
    {
        var cold = WarmTrainerFixture.Cold(_fx.Options(TrainerModes.Cold));
        var coldOptions = _fx.Options(TrainerModes.Cold);
        var first = WarmTrainerFixture.DigestOf(await cold.RunAsync(_fx.Attempt(coldOptions, _fx.Shard("cold-1", 1, seed: 101)), CancellationToken.None));
        // The second shard reads the same samples (what a warm trainer's cache holds) with another seed, and half of them again.
        var second = WarmTrainerFixture.DigestOf(await cold.RunAsync(_fx.Attempt(coldOptions, _fx.Shard("cold-2", 2, seed: 202)), CancellationToken.None));
        var third = WarmTrainerFixture.DigestOf(await cold.RunAsync(_fx.Attempt(coldOptions, _fx.Shard("cold-3", 3, seed: 303, first: 16, count: 32)), CancellationToken.None));

        var options = _fx.Options(TrainerModes.Warm);
        var pool = _fx.Pool(options);
        var warm1 = await pool.RunAsync(_fx.Attempt(options, _fx.Shard("warm-1", 1, seed: 101)), CancellationToken.None);
        var warm2 = await pool.RunAsync(_fx.Attempt(options, _fx.Shard("warm-2", 2, seed: 202)), CancellationToken.None);
        var warm3 = await pool.RunAsync(_fx.Attempt(options, _fx.Shard("warm-3", 3, seed: 303, first: 16, count: 32)), CancellationToken.None);

        Assert.Equal(first, WarmTrainerFixture.DigestOf(warm1));
        Assert.Equal(second, WarmTrainerFixture.DigestOf(warm2));
        Assert.Equal(third, WarmTrainerFixture.DigestOf(warm3));
        Assert.NotEqual(first, second);
        Assert.Equal(1, pool.TrainersStarted);
        var result = Assert.IsType<ShardTrained>(warm2).Result;
        Assert.Equal(WarmTrainerFixture.Samples, result.Samples);
        Assert.Equal("cpu", result.Device);
        Assert.True(result.Seconds > 0);
        // The trainer's own log says the second and third shards took their samples and their model from its caches.
        // (Its line on a task follows the task's result, so it may land a moment after the result was read.)
        var logPath = Path.Combine(options.WorkDirectory, "trainers", "trainer-1.log");
        await FarmFixture.WaitUntilAsync(() => File.ReadAllText(logPath).Contains("3 served", StringComparison.Ordinal), TimeSpan.FromSeconds(30), () => File.ReadAllText(logPath));
        var log = await File.ReadAllTextAsync(logPath);
        Assert.Contains($"{WarmTrainerFixture.Samples + 32} hits, {WarmTrainerFixture.Samples} misses; 2 models reused", log);
    }

    [Fact]
    public async Task A_warm_trainer_killed_mid_shard_fails_that_shard_and_a_fresh_trainer_runs_the_next()
    {
        var options = _fx.Options(TrainerModes.Warm);
        var pool = _fx.Pool(options);
        var shard = _fx.Shard("doomed", 1, seed: 1, epochs: 400);
        var run = pool.RunAsync(_fx.Attempt(options, shard), CancellationToken.None);
        await WarmTrainerFixture.TrainingAsync(shard);
        var pid = Assert.Single(pool.BusyTrainers);

        using (var trainer = Process.GetProcessById(pid))
        {
            trainer.Kill();
        }

        var failed = Assert.IsType<ShardRunFailed>(await run.WaitAsync(TimeSpan.FromMinutes(1)));
        Assert.StartsWith("trainer exited with code 137", failed.Failure.Reason);
        Assert.False(failed.Failure.InputRefused);

        var next = await pool.RunAsync(_fx.Attempt(options, _fx.Shard("next", 1, seed: 2)), CancellationToken.None);
        Assert.IsType<ShardTrained>(next);
        Assert.Equal(2, pool.TrainersStarted);
        Assert.DoesNotContain(pid, pool.IdleTrainers);
    }

    [Fact]
    public async Task A_hung_warm_trainer_is_killed_with_its_group_after_the_grace_and_replaced()
    {
        // Says hello, takes the task, then ignores its input and SIGTERM (so does its helper): only SIGKILL ends it.
        var pids = Path.Combine(_fx.Root, "pids");
        var hello = TrainerProtocol.Format(new TrainerHello(TrainerProtocol.Version, "test"));
        var script = $"trap '' TERM; sleep 600 >/dev/null 2>&1 & echo \"$$ $!\" >> {pids}; echo '{hello}'; read task; wait";
        var options = _fx.Options(TrainerModes.Warm, graceMs: 1500);
        options.TrainerExecutable = "/bin/sh";
        options.Trainer.ServeArguments = ["-c", script];
        var pool = _fx.Pool(options);
        using var cancel = new CancellationTokenSource();
        var shard = _fx.Shard("hung", 1, seed: 1);
        var run = pool.RunAsync(_fx.Attempt(options, shard), cancel.Token);
        await FarmFixture.WaitUntilAsync(() => File.Exists(pids) && shard.Phase == "training", TimeSpan.FromSeconds(30), () => $"the stand-in never started (phase {shard.Phase})");
        var hung = (await File.ReadAllTextAsync(pids)).Split(' ', '\n').Where(p => p.Length > 0).Select(int.Parse).ToArray();

        var stopping = Stopwatch.StartNew();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);

        Assert.True(stopping.Elapsed >= TimeSpan.FromMilliseconds(1400), $"killed after {stopping.Elapsed}, before the grace of 1.5 s");
        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(15), $"still running {stopping.Elapsed} after the cancellation");
        await FarmFixture.WaitUntilAsync(() => hung.All(p => !Alive(p)), TimeSpan.FromSeconds(10), () => $"the hung trainer's group outlived SIGKILL: {string.Join(", ", hung.Where(Alive))}");
        // A fresh trainer already waits for the next shard.
        Assert.Equal(2, pool.TrainersStarted);
        Assert.Single(pool.IdleTrainers);
        Assert.DoesNotContain(hung[0], pool.IdleTrainers);
    }

    [Fact]
    public async Task Cancelling_a_shard_on_a_warm_trainer_stops_it_between_batches_and_the_trainer_runs_the_next()
    {
        var options = _fx.Options(TrainerModes.Warm, graceMs: 60_000);
        var pool = _fx.Pool(options);
        using var cancel = new CancellationTokenSource();
        var shard = _fx.Shard("cancelled", 1, seed: 1, epochs: 400);
        var run = pool.RunAsync(_fx.Attempt(options, shard), cancel.Token);
        await WarmTrainerFixture.TrainingAsync(shard);
        var pid = Assert.Single(pool.BusyTrainers);

        var stopping = Stopwatch.StartNew();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);

        // Stopped by the cancel message at its next batch, far inside the grace; no process was killed.
        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(20), $"took {stopping.Elapsed}: the cancel message did not stop the task");
        Assert.Equal([pid], pool.IdleTrainers);
        Assert.IsType<ShardTrained>(await pool.RunAsync(_fx.Attempt(options, _fx.Shard("after", 1, seed: 2)), CancellationToken.None));
        Assert.Equal(1, pool.TrainersStarted);
    }

    [Fact]
    public async Task A_yield_on_a_warm_trainer_hands_back_a_checkpoint_that_resumes_to_the_uninterrupted_weights()
    {
        var options = _fx.Options(TrainerModes.Warm);
        var pool = _fx.Pool(options);
        var whole = WarmTrainerFixture.DigestOf(await pool.RunAsync(_fx.Attempt(options, _fx.Shard("whole", 1, seed: 5, epochs: 30)), CancellationToken.None));

        var shard = _fx.Shard("yielding", 1, seed: 5, epochs: 30);
        var run = pool.RunAsync(_fx.Attempt(options, shard), CancellationToken.None);
        await WarmTrainerFixture.TrainingAsync(shard);
        shard.YieldReason = "test";
        await shard.YieldRequested.CancelAsync();
        var yielded = Assert.IsType<ShardYieldedToRender>(await run.WaitAsync(TimeSpan.FromMinutes(1)));
        Assert.NotNull(yielded.CheckpointPath);
        Assert.True(yielded.Position!.SamplesSeen > 0);
        Assert.True(yielded.Position.SamplesSeen < yielded.Position.SamplesTotal, $"yielded at {yielded.Position}: the shard had finished");
        var checkpoint = Path.Combine(_fx.Root, "checkpoint.safetensors");
        File.Copy(yielded.CheckpointPath!, checkpoint);

        var resumed = await pool.RunAsync(_fx.Attempt(options, _fx.Shard("resumed", 1, seed: 5, epochs: 30), resume: checkpoint), CancellationToken.None);
        Assert.Equal(whole, WarmTrainerFixture.DigestOf(resumed));
        Assert.Equal(1, pool.TrainersStarted);
    }

    [Fact]
    public async Task A_warm_trainer_is_recycled_after_its_shards_and_when_its_program_changes()
    {
        // A stand-in that fails every task at once: what is measured is which trainer ran it.
        var program = Path.Combine(_fx.Root, "trainer.sh");
        var hello = TrainerProtocol.Format(new TrainerHello(TrainerProtocol.Version, "test"));
        var error = TrainerProtocol.Format(new TrainerError("stand-in", Refused: false, []));
        await File.WriteAllTextAsync(program, $"echo '{hello}'; while read task; do echo '{error}'; done\n");
        var options = _fx.Options(TrainerModes.Warm);
        options.TrainerExecutable = "/bin/sh";
        options.Trainer.ServeArguments = [program];
        options.Trainer.RecycleAfterShards = 2;
        var pool = _fx.Pool(options);

        for (var i = 0; i < 3; i++)
        {
            var failed = Assert.IsType<ShardRunFailed>(await pool.RunAsync(_fx.Attempt(options, _fx.Shard($"s{i}", 1, seed: i)), CancellationToken.None));
            Assert.Equal("trainer exited with code 1: error: stand-in", failed.Failure.Reason);
        }

        // Two shards, then a fresh trainer (started at once, so it waits warm); the third ran on it.
        Assert.Equal(2, pool.TrainersStarted);
        var idle = Assert.Single(pool.IdleTrainers);

        // rmtc upgraded in place: the warm trainer runs the old program, so the next shard gets a fresh one.
        File.SetLastWriteTimeUtc(program, DateTime.UtcNow.AddMinutes(1));
        await pool.RunAsync(_fx.Attempt(options, _fx.Shard("after-upgrade", 1, seed: 9)), CancellationToken.None);
        Assert.Equal(3, pool.TrainersStarted);
        Assert.DoesNotContain(idle, pool.IdleTrainers);
    }

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

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _fx.DisposeAsync().AsTask();
}
