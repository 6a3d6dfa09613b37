using RMTC.Farm.Agent.Execution;
using RMTC.Farm.Agent.Execution.Supervision;
using RMTC.Farm.Agent.Execution.Trainer;
using RMTC.Farm.Core.Trainer;
using RMTC.Farm.Core.Training;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Integration.Tests.Execution;

/// <summary>What an attempt comes to, from the trainer's exit code and its last messages (no process: the mapping alone).</summary>
public sealed class TrainerExitMeaningTests : IDisposable
{
    private static readonly ShardResult Summary = new() { Samples = 8, FinalLoss = 0.5, EpochLosses = [0.5], Seconds = 1, Device = "cpu" };
    private readonly string _dir = Directory.CreateTempSubdirectory("rmtc-exit-").FullName;

    [Fact]
    public void Exit_0_with_the_weights_and_the_result_message_is_a_result_even_when_a_yield_came_too_late()
    {
        var (task, shard) = Attempt(ShardTaskKinds.Train);
        File.WriteAllText(task.OutputPath, "weights");
        shard.YieldRequested.Cancel();

        var trained = Assert.IsType<ShardTrained>(TrainerShardRunner.Interpret(Exit(0, result: new TrainerResult(Summary)), task, shard));
        Assert.Equal(task.OutputPath, trained.WeightsPath);
        Assert.Same(Summary, trained.Result);
    }

    [Fact]
    public void Exit_0_without_the_result_message_is_a_failure_that_says_what_the_trainer_printed()
    {
        var (task, shard) = Attempt(ShardTaskKinds.Train);
        File.WriteAllText(task.OutputPath, "weights");

        var failed = Assert.IsType<ShardRunFailed>(TrainerShardRunner.Interpret(Exit(0, tail: "done", problems: ["not JSON: done?"]), task, shard));
        Assert.Equal($"trainer exited with code 0: done; 1 line(s) of its output were not trainer protocol {TrainerProtocol.Version}, the first: not JSON: done?", failed.Failure.Reason);
        Assert.False(failed.Failure.InputRefused);
    }

    [Fact]
    public void An_evaluation_ends_with_its_figures()
    {
        var (task, shard) = Attempt(ShardTaskKinds.Evaluate);
        var figures = new EvaluationFigures { Loss = 0.1, Samples = 4, Seconds = 1, Device = "cpu" };

        Assert.Same(figures, Assert.IsType<ShardEvaluated>(TrainerShardRunner.Interpret(Exit(0, evaluation: new TrainerEvaluation(figures)), task, shard)).Figures);
    }

    [Fact]
    public void A_refused_input_is_final_with_every_problem_as_the_reason()
    {
        var (task, shard) = Attempt(ShardTaskKinds.Prepare);
        var error = new TrainerError("two problems", Refused: true, ["model.pt: not TorchScript", "model.pt: no parameters"]);

        var failed = Assert.IsType<ShardRunFailed>(TrainerShardRunner.Interpret(Exit(TrainerExitCodes.Refused, error: error), task, shard));
        Assert.True(failed.Failure.InputRefused);
        Assert.Equal("model.pt: not TorchScript; model.pt: no parameters", failed.Failure.Reason);
    }

    [Fact]
    public void A_yield_hands_back_the_checkpoint_only_after_exit_75_with_the_file_written()
    {
        var (task, shard) = Attempt(ShardTaskKinds.Train);
        shard.YieldRequested.Cancel();
        var position = new TrainerCheckpoint(new ShardYieldReport(1, 2, 3, 4), task.CheckpointPath);

        var none = Assert.IsType<ShardYieldedToRender>(TrainerShardRunner.Interpret(Exit(TrainerExitCodes.Yielded, checkpoint: position), task, shard));
        Assert.Null(none.CheckpointPath);
        File.WriteAllText(task.CheckpointPath!, "checkpoint");
        var killed = Assert.IsType<ShardYieldedToRender>(TrainerShardRunner.Interpret(Exit(143), task, shard));
        Assert.Null(killed.CheckpointPath);
        var yielded = Assert.IsType<ShardYieldedToRender>(TrainerShardRunner.Interpret(Exit(TrainerExitCodes.Yielded, checkpoint: position), task, shard));
        Assert.Equal(task.CheckpointPath, yielded.CheckpointPath);
        Assert.Equal(position.Position, yielded.Position);
    }

    [Fact]
    public void A_refused_trainer_fails_the_attempt_with_the_refusal_whatever_it_exited_with()
    {
        var (task, shard) = Attempt(ShardTaskKinds.Train);
        shard.YieldRequested.Cancel();

        var failed = Assert.IsType<ShardRunFailed>(TrainerShardRunner.Interpret(Exit(143) with { Refusal = "the trainer speaks trainer protocol 2" }, task, shard));
        Assert.Equal("the trainer speaks trainer protocol 2", failed.Failure.Reason);
    }

    private (ShardTask Task, RunningShard Shard) Attempt(string kind) => (
        new ShardTask
        {
            Kind = kind, RunId = "r", Round = 1, Shard = 0, Recipe = "classifier", DatasetPath = _dir, SampleIndices = [0], InitialWeightsPath = "",
            Seed = 1, OutputPath = Path.Combine(_dir, "result.safetensors"), ResultPath = Path.Combine(_dir, "result.json"),
            CheckpointPath = Path.Combine(_dir, "checkpoint.safetensors"),
        },
        new RunningShard { Assignment = new Assignment { LeaseId = "l-1", LeaseEpoch = 3 }, Cancellation = new CancellationTokenSource() });

    private static TrainerExit Exit(int code, TrainerResult? result = null, TrainerEvaluation? evaluation = null, TrainerCheckpoint? checkpoint = null,
        TrainerError? error = null, string tail = "", IReadOnlyList<string>? problems = null) =>
        new(code, result, evaluation, checkpoint, error, null, problems ?? [], problems?.Count ?? 0, tail);

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
