using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Agent.Execution;

/// <summary>The <see cref="ShardFailed"/> messages an agent sends.</summary>
public static class ShardFailures
{
    /// <summary>Longest reason sent: the coordinator records it in the manifest.</summary>
    public const int MaxReasonLength = 2000;

    /// <summary>A failure of <paramref name="a"/>'s attempt with <paramref name="reason"/> (cut to <see cref="MaxReasonLength"/>).</summary>
    public static ShardFailed Of(Assignment a, string reason) => new()
    {
        LeaseId = a.LeaseId,
        LeaseEpoch = a.LeaseEpoch,
        Reason = reason.Length > MaxReasonLength ? reason[..MaxReasonLength] : reason,
    };
}
