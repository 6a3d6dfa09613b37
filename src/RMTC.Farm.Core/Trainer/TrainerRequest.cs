using System.Text.Json.Serialization;
using RMTC.Farm.Core.Training;

namespace RMTC.Farm.Core.Trainer;

/// <summary>
/// What an agent tells a long-lived trainer (<c>rmtc trainer serve</c>) on its standard input, one JSON object a line,
/// named by <c>"type"</c> like the <see cref="TrainerMessage"/>s it answers with. A task is answered by the same
/// messages a <c>rmtc shard run</c> process writes, ended by exactly one of <see cref="TrainerResult"/>,
/// <see cref="TrainerEvaluation"/>, <see cref="TrainerCheckpoint"/> or <see cref="TrainerError"/>; the trainer then
/// waits for the next task. A cancel or yield naming a task that is not running is ignored (it raced the task's end).
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = TrainerProtocol.TypeProperty)]
[JsonDerivedType(typeof(TrainerTaskRequest), TrainerTaskRequest.Type)]
[JsonDerivedType(typeof(TrainerCancelRequest), TrainerCancelRequest.Type)]
[JsonDerivedType(typeof(TrainerYieldRequest), TrainerYieldRequest.Type)]
public abstract record TrainerRequest;

/// <summary>Run one task (a shard, a run's preparation, an evaluation), as <c>rmtc shard run --task</c> would.</summary>
/// <param name="Id">The task's id (the lease id), named again by a cancel or yield.</param>
/// <param name="Task">The task, exactly what <c>task.json</c> holds for a cold trainer.</param>
public sealed record TrainerTaskRequest(string Id, ShardTask Task) : TrainerRequest
{
    /// <summary>The <c>type</c> of this request on the wire.</summary>
    public const string Type = "task";
}

/// <summary>Stop task <paramref name="Id"/> between batches, writing nothing (what SIGTERM does to a cold trainer): it ends with an error "cancelled".</summary>
/// <param name="Id">The task to stop.</param>
public sealed record TrainerCancelRequest(string Id) : TrainerRequest
{
    /// <summary>The <c>type</c> of this request on the wire.</summary>
    public const string Type = "cancel";
}

/// <summary>Stop task <paramref name="Id"/> before its next batch with a checkpoint (what SIGUSR1 does to a cold trainer): it ends with a <see cref="TrainerCheckpoint"/>.</summary>
/// <param name="Id">The task to stop.</param>
public sealed record TrainerYieldRequest(string Id) : TrainerRequest
{
    /// <summary>The <c>type</c> of this request on the wire.</summary>
    public const string Type = "yield";
}
