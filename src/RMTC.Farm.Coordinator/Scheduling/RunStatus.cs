namespace RMTC.Farm.Coordinator.Scheduling;

/// <summary>A run as it stood when asked: its state, where its rounds and shards are, and what it produced.</summary>
/// <param name="Id">The run id.</param>
/// <param name="Name">The name.</param>
/// <param name="State">One of <see cref="Core.Lineage.RunStates"/>.</param>
/// <param name="Recipe">Its recipe.</param>
/// <param name="Rounds">Rounds it runs in all.</param>
/// <param name="Shards">Shards per round.</param>
/// <param name="CurrentRound">The round it is in.</param>
/// <param name="ShardsDone">The current round's merged shards (an ended run: its last round's accepted results).</param>
/// <param name="ShardsRunning">The current round's shards under lease.</param>
/// <param name="ShardsQueued">The current round's shards waiting for an agent.</param>
/// <param name="FinalModelDigest">sha256 of the merged model file once the run succeeded; empty before.</param>
/// <param name="FinalModelTensorsDigest">The model's tensors digest (names, shapes, values), empty before it exists.</param>
/// <param name="Error">Why it failed or was cancelled; empty otherwise.</param>
/// <param name="CreatedAt">When it was submitted.</param>
/// <param name="FinishedAt">When it ended; null while live.</param>
/// <param name="DatasetName">Its dataset's name.</param>
/// <param name="DatasetDigest">The dataset's digest, checked by the agent before training.</param>
/// <param name="SubmittedBy">Who submitted it.</param>
/// <param name="WaitingReason">Why nothing of it runs although it is live (no agent fits, paused...); empty otherwise.</param>
/// <param name="CompletedRounds">Every merged round, oldest first.</param>
public sealed record RunStatus(
    string Id,
    string Name,
    string State,
    string Recipe,
    int Rounds,
    int Shards,
    int CurrentRound,
    int ShardsDone,
    int ShardsRunning,
    int ShardsQueued,
    string FinalModelDigest,
    string FinalModelTensorsDigest,
    string Error,
    DateTimeOffset CreatedAt,
    DateTimeOffset? FinishedAt,
    string DatasetName,
    string DatasetDigest,
    string SubmittedBy,
    string WaitingReason,
    IReadOnlyList<RoundFigures> CompletedRounds);

/// <summary>A merged round's figures: its weights in and out, training loss, and the held-out evaluation when there was one.</summary>
/// <param name="Round">The round (1-based).</param>
/// <param name="InputDigest">The round's input weights.</param>
/// <param name="OutputDigest">The round's merged weights.</param>
/// <param name="MeanLoss">Sample-weighted mean of the shards' final training losses; NaN when none was reported.</param>
/// <param name="Samples">How many samples it covered.</param>
/// <param name="Seconds">Round wall time, start to merged.</param>
/// <param name="EvalLoss">Held-out loss of the merged weights; null until (or unless) the round was evaluated.</param>
/// <param name="EvalAccuracy">Held-out accuracy; null when not measured.</param>
/// <param name="EvalPsnr">Held-out PSNR in dB; null when not measured.</param>
/// <param name="EvalSamples">Held-out samples evaluated; 0 when none.</param>
public sealed record RoundFigures(
    int Round,
    string InputDigest,
    string OutputDigest,
    double MeanLoss,
    long Samples,
    double Seconds,
    double? EvalLoss,
    double? EvalAccuracy,
    double? EvalPsnr,
    int EvalSamples);
