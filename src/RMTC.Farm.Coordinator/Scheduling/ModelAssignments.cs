using RMTC.Farm.Coordinator.Runs;

namespace RMTC.Farm.Coordinator.Scheduling;

/// <summary>What every lease of a run carries besides the recipe: its optimiser, and its TorchScript model when it has one.</summary>
internal static class ModelAssignments
{
    /// <summary>
    /// The run's model as every lease names it (shards, preparation and evaluation alike): the stored file's digest, the
    /// task, the loss and the file as the spec named it (for refusals); null for a built-in recipe.
    /// </summary>
    public static WorkModel? ModelOf(RunState run) =>
        run.Spec.Model is { } model && run.Manifest.Code.ModelDigest is { } digest
            ? new WorkModel(digest, model.Task, model.Loss, model.File)
            : null;

    /// <summary>
    /// <paramref name="order"/> with the run's optimiser settings (the spec's, empty name for adam as before the setting
    /// existed), its model, the schedule's learning rate for the order's round and the spec's augmentation.
    /// </summary>
    public static WorkOrder WithRunSettings(this WorkOrder order, RunState run) => order with
    {
        Optimizer = run.Spec.Local.Optimizer ?? "",
        Momentum = run.Spec.Local.Momentum ?? 0,
        WeightDecay = run.Spec.Local.WeightDecay ?? 0,
        Model = ModelOf(run),
        LearningRate = Core.Training.LearningRateSchedule.ForRound(run.Spec.Local, Math.Clamp(order.Round, 1, run.Spec.Rounds), run.Spec.Rounds),
        Augment = run.Spec.Local.Augment ?? "",
    };
}
