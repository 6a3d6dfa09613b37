using System.Globalization;

namespace RMTC.Farm.Core.Jobs;

/// <summary>
/// The checks on a spec's local training that go beyond one value's range: names from a list, and settings that only
/// make sense together. Shared by every spec format (YAML's <c>local:</c> block, an OpenCue layer's flags), so both
/// refuse the same things in the same words, each naming its settings as its users write them.
/// </summary>
internal static class LocalTrainingRules
{
    /// <summary>
    /// Returns <paramref name="local"/> with every unknown name cleared, after reporting each problem to
    /// <paramref name="problem"/> (the YAML key it concerns, the text). <paramref name="setting"/> writes a setting as the
    /// format does, given its YAML key and optionally a value: <c>`optimizer: sgd`</c> in YAML, <c>`--optimizer sgd`</c>
    /// on an OpenCue layer.
    /// </summary>
    public static LocalTrainingSpec Check(LocalTrainingSpec local, int rounds, Func<string, string?, string> setting, Action<string, string> problem)
    {
        var optimizer = local.Optimizer;
        if (optimizer is not null && !Training.OptimizerNames.All.Contains(optimizer))
        {
            problem("optimizer", $"unknown optimizer '{Echo.Of(optimizer)}': use {string.Join(" or ", Training.OptimizerNames.All)}");
            optimizer = null;
        }

        if (local.Momentum is not null && optimizer != Training.OptimizerNames.Sgd)
        {
            var sgd = setting("optimizer", Training.OptimizerNames.Sgd);
            problem("momentum", $"{setting("momentum", null)} applies to {sgd} (adam has its own): add {sgd} or remove {setting("momentum", null)}");
        }

        var schedule = local.LearningRateSchedule;
        if (schedule is not null && !Training.LearningRateSchedules.All.Contains(schedule))
        {
            problem("learning_rate_schedule", $"unknown schedule '{Echo.Of(schedule)}': use {string.Join(" or ", Training.LearningRateSchedules.All)}");
            schedule = null;
        }

        if (local.FinalLearningRate is { } final)
        {
            if (schedule != Training.LearningRateSchedules.Cosine)
            {
                problem("final_learning_rate", $"{setting("final_learning_rate", null)} is where a decaying schedule ends: add {setting("learning_rate_schedule", Training.LearningRateSchedules.Cosine)} or remove it");
            }
            else if (final > local.LearningRate)
            {
                problem("final_learning_rate", $"{setting("final_learning_rate", null)} ({final.ToString(CultureInfo.InvariantCulture)}) is above {setting("learning_rate", null)} ({local.LearningRate.ToString(CultureInfo.InvariantCulture)}): the schedule only decays; lower it");
            }
        }

        var augment = local.Augment;
        if (augment is not null && !Training.SampleAugmentations.All.Contains(augment))
        {
            problem("augment", $"unknown augmentation '{Echo.Of(augment)}': use {string.Join(" or ", Training.SampleAugmentations.All)}");
            augment = null;
        }

        if (local.RoundsPerEpoch is > 1 and var perEpoch)
        {
            var each = perEpoch.ToString(CultureInfo.InvariantCulture);
            if (local.Epochs != 1)
            {
                problem("epochs", $"{setting("rounds_per_epoch", each)} spreads one epoch over {each} rounds, so a round trains part of an epoch: set {setting("epochs", "1")} (got {local.Epochs.ToString(CultureInfo.InvariantCulture)}) or remove {setting("rounds_per_epoch", null)}");
            }
            else if (rounds % perEpoch != 0)
            {
                problem("rounds_per_epoch", $"{setting("rounds", rounds.ToString(CultureInfo.InvariantCulture))} must be whole epochs with {setting("rounds_per_epoch", each)}: use a multiple of {each} rounds, e.g. {(rounds + perEpoch - 1) / perEpoch * perEpoch}");
            }
        }

        return local with { Optimizer = optimizer, LearningRateSchedule = schedule, Augment = augment };
    }
}
