using RMTC.Farm.Coordinator.Scheduling;

namespace RMTC.Farm.Integration.Tests;

/// <summary>
/// What agents say to the scheduler, built as the scheduler's own types: tests of scheduling decisions drive the state
/// machine directly, with no wire in between.
/// </summary>
internal static class SchedulerInputs
{
    public static AgentRegistration Registration(string id, int slots = 1, uint gpus = 0, ulong memoryMib = 65536, double cores = 16, params string[] tags) =>
        new(id, id, slots, new AgentResources(gpus, gpus * 16384UL, memoryMib, cores, tags), "test");

    public static AgentHeartbeat Heartbeat(bool yielding = false, string reason = "") => new([], [], yielding, reason);

    public static ResultUpload Upload(WorkOrder lease, string agentId, string digest, long samples = 0, double finalLoss = 0, long totalBytes = 0) =>
        new(lease.LeaseId, lease.LeaseEpoch, agentId, digest, totalBytes, samples, finalLoss, [], 0, "cpu", false, "");

    public static AttemptFailure Failure(WorkOrder lease, string reason) => new(lease.LeaseId, lease.LeaseEpoch, reason);

    public static AttemptYield Yield(WorkOrder lease, string reason) => new(lease.LeaseId, lease.LeaseEpoch, reason, "", 0, 0, 0, 0);

    public static EvaluationOutcome Evaluation(WorkOrder lease, double loss, double? accuracy, int samples, double seconds = 0, string device = "") =>
        new(lease.LeaseId, lease.LeaseEpoch, loss, accuracy, null, samples, seconds, device);

    extension(AgentCommand command)
    {
        /// <summary>The work an <see cref="AssignWork"/> carries (fails the test on anything else).</summary>
        public WorkOrder Assign => Assert.IsType<AssignWork>(command).Order;

        /// <summary>The stop a <see cref="CancelWork"/> says (fails the test on anything else).</summary>
        public CancelWork Cancel => Assert.IsType<CancelWork>(command);
    }
}
