using System.Text.Json.Serialization;
using RMTC.Farm.Core.Training;

namespace RMTC.Farm.Core.Trainer;

/// <summary>
/// One line of the trainer protocol: what <c>rmtc shard run</c> tells the agent that started it, one JSON object a line
/// on its standard output, named by <c>"type"</c>. The first line is always a <see cref="TrainerHello"/> naming the
/// protocol version; see <see cref="TrainerProtocol"/>.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = TrainerProtocol.TypeProperty)]
[JsonDerivedType(typeof(TrainerHello), TrainerHello.Type)]
[JsonDerivedType(typeof(TrainerStarted), TrainerStarted.Type)]
[JsonDerivedType(typeof(TrainerProgress), TrainerProgress.Type)]
[JsonDerivedType(typeof(TrainerResult), TrainerResult.Type)]
[JsonDerivedType(typeof(TrainerEvaluation), TrainerEvaluation.Type)]
[JsonDerivedType(typeof(TrainerCheckpoint), TrainerCheckpoint.Type)]
[JsonDerivedType(typeof(TrainerError), TrainerError.Type)]
public abstract record TrainerMessage;

/// <summary>
/// The trainer's first line: the protocol it speaks, and that it handles SIGUSR1 from now on (before this, the signal's
/// default action would end it, so the agent signals a yield only after the hello).
/// </summary>
/// <param name="Protocol">The protocol version the trainer writes (<see cref="TrainerProtocol.Version"/> of its build).</param>
/// <param name="Rmtc">The trainer's rmtc version, for the message that refuses a mismatch; null when unknown.</param>
public sealed record TrainerHello(int Protocol, string? Rmtc) : TrainerMessage
{
    /// <summary>The <c>type</c> of this message on the wire.</summary>
    public const string Type = "hello";
}

/// <summary>
/// Training begins: the inputs are read, the model built and loaded; the first batch comes next. Sent once per training
/// task (not by a preparation or an evaluation), so the agent can tell how long a shard took to start.
/// </summary>
/// <param name="SetupSeconds">Seconds from the task reaching the trainer to this point (reading samples, building the model).</param>
/// <param name="Warm">True when a long-lived trainer (<c>rmtc trainer serve</c>) runs the task, false for <c>rmtc shard run</c>.</param>
public sealed record TrainerStarted(double SetupSeconds, bool Warm) : TrainerMessage
{
    /// <summary>The <c>type</c> of this message on the wire.</summary>
    public const string Type = "started";
}

/// <summary>How far training has come (as often as the training loop reports it).</summary>
/// <param name="Progress">Epoch, samples seen and the running loss.</param>
public sealed record TrainerProgress(TrainingProgress Progress) : TrainerMessage
{
    /// <summary>The <c>type</c> of this message on the wire.</summary>
    public const string Type = "progress";
}

/// <summary>
/// A shard trained, or a run's initial weights built: the weights are in the task's output file, and this is their
/// summary (samples, losses, the device it ran on and the seconds it trained).
/// </summary>
/// <param name="Result">The summary the agent sends with the weights.</param>
public sealed record TrainerResult(ShardResult Result) : TrainerMessage
{
    /// <summary>The <c>type</c> of this message on the wire.</summary>
    public const string Type = "result";
}

/// <summary>A round's evaluation finished: its figures, with the device and seconds it took (nothing is uploaded).</summary>
/// <param name="Figures">Loss, accuracy or PSNR, samples, seconds, device.</param>
public sealed record TrainerEvaluation(EvaluationFigures Figures) : TrainerMessage
{
    /// <summary>The <c>type</c> of this message on the wire.</summary>
    public const string Type = "evaluation";
}

/// <summary>
/// The trainer stopped because its node yields to rendering: where training stood, and the checkpoint it wrote (null
/// when none was asked for). It then exits with <see cref="TrainerExitCodes.Yielded"/>.
/// </summary>
/// <param name="Position">Epoch, batches and samples reached.</param>
/// <param name="CheckpointPath">The checkpoint file written; null when the task asked for none.</param>
public sealed record TrainerCheckpoint(ShardYieldReport Position, string? CheckpointPath) : TrainerMessage
{
    /// <summary>The <c>type</c> of this message on the wire.</summary>
    public const string Type = "checkpoint";
}

/// <summary>
/// The task failed. <paramref name="Refused"/> marks an input that retrying cannot mend (a run's model file that fails
/// its check, exit <see cref="TrainerExitCodes.Refused"/>): <paramref name="Problems"/> then names each problem.
/// </summary>
/// <param name="Message">What went wrong, in one line.</param>
/// <param name="Refused">True when the input itself is refused (final: the run fails, no retry).</param>
/// <param name="Problems">Every problem of a refused input, each naming the file and what is wrong; empty otherwise.</param>
public sealed record TrainerError(string Message, bool Refused, IReadOnlyList<string> Problems) : TrainerMessage
{
    /// <summary>The <c>type</c> of this message on the wire.</summary>
    public const string Type = "error";
}
