using RMTC.Farm.Core.Jobs;

namespace RMTC.Farm.Core.Training;

/// <summary>Names of the learning-rate schedules a spec's <c>local.learning_rate_schedule</c> takes.</summary>
public static class LearningRateSchedules
{
    /// <summary><c>local.learning_rate</c> in every round (what every run did before the setting existed).</summary>
    public const string Constant = "constant";

    /// <summary>Half a cosine from <c>learning_rate</c> in the first round down to <c>final_learning_rate</c> in the last.</summary>
    public const string Cosine = "cosine";

    /// <summary>Every name, for errors.</summary>
    public static readonly IReadOnlyList<string> All = [Constant, Cosine];
}

/// <summary>
/// The learning rate of each round of a run, from the run's progress alone, so the coordinator (which puts it in every
/// shard's work order) and <c>rmtc train --local</c> (which sets it on its one optimiser at each round's start) follow
/// the same curve step for step. It changes at round boundaries and holds within a round: a shard's work order carries
/// one learning rate, and the local run evaluates where the farm does, after each round. When one epoch is spread over
/// several rounds (<c>local.rounds_per_epoch</c>) the curve steps per epoch instead, so a farm run that merges more often
/// follows the same learning rates as the local run of the same epochs.
/// </summary>
public static class LearningRateSchedule
{
    /// <summary>The fraction of <c>learning_rate</c> a cosine schedule ends at when the spec names no <c>final_learning_rate</c>.</summary>
    public const double DefaultFinalFraction = 0.05;

    /// <summary>
    /// The learning rate of <paramref name="round"/> (1-based) of a run of <paramref name="rounds"/> under
    /// <paramref name="local"/>'s schedule: the rate of the round's epoch when an epoch spans several rounds.
    /// </summary>
    public static double ForRound(LocalTrainingSpec local, int round, int rounds)
    {
        ArgumentNullException.ThrowIfNull(local);
        var perEpoch = local.EffectiveRoundsPerEpoch;
        var (step, steps) = perEpoch > 1 ? (Planning.RoundSlices.EpochOf(round, perEpoch), Math.Max(1, rounds / perEpoch)) : (round, rounds);
        return At(local.LearningRateSchedule ?? LearningRateSchedules.Constant, local.LearningRate, local.EffectiveFinalLearningRate, Math.Min(step, steps), steps);
    }

    /// <summary>
    /// <paramref name="initial"/> for <c>constant</c>; for <c>cosine</c>,
    /// <c>final + (initial − final) · (1 + cos(π · (round − 1) / (rounds − 1))) / 2</c>: <paramref name="initial"/> in the
    /// first round, <paramref name="final"/> in the last (a one-round run keeps <paramref name="initial"/>).
    /// </summary>
    /// <exception cref="ArgumentException">An unknown schedule, or a round outside 1..rounds.</exception>
    public static double At(string schedule, double initial, double final, int round, int rounds)
    {
        if (rounds < 1 || round < 1 || round > rounds)
        {
            throw new ArgumentOutOfRangeException(nameof(round), $"round {round} is outside 1..{rounds}");
        }

        switch (schedule)
        {
            case LearningRateSchedules.Constant:
                return initial;
            case LearningRateSchedules.Cosine:
                if (rounds == 1)
                {
                    return initial;
                }

                var progress = (double)(round - 1) / (rounds - 1);
                return final + ((initial - final) * (1 + Math.Cos(Math.PI * progress)) / 2);
            default:
                throw new ArgumentException($"unknown learning rate schedule '{schedule}' (use {string.Join(" or ", LearningRateSchedules.All)})", nameof(schedule));
        }
    }
}
