using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Training.Tasks;

namespace RMTC.Farm.Integration.Tests;

/// <summary>
/// For tests of scheduling decisions that run no agent processes: the run's initial weights are built in the test
/// (the same Training entry point an agent's prepare task calls) instead of by a leased prepare task.
/// </summary>
public static class InProcessPreparation
{
    /// <summary>Submits <paramref name="request"/> with its initial weights built in this process.</summary>
    public static RunStatus SubmitPrepared(this FarmScheduler scheduler, JobSubmission request) =>
        scheduler.SubmitPreparedInProcess(request, (spec, seed) => RunInitialisation.Create(spec.Recipe, null, spec.Dataset, seed));
}
