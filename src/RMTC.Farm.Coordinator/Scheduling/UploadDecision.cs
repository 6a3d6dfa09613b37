namespace RMTC.Farm.Coordinator.Scheduling;

/// <summary>What the coordinator makes of a result upload before and after receiving its bytes.</summary>
public enum UploadVerdict
{
    /// <summary>The lease is current: receive and merge.</summary>
    Accept,
    /// <summary>This exact result was already accepted: answer success, change nothing.</summary>
    Duplicate,
    /// <summary>The lease is unknown, expired or superseded by a newer epoch: refuse.</summary>
    Stale,
    /// <summary>The result itself is unusable (non-finite values, wrong tensors): refused, the shard is queued again.</summary>
    Rejected,
}

/// <summary>A verdict with the reason a person can read.</summary>
public readonly record struct UploadDecision(UploadVerdict Verdict, string Reason);
