namespace RMTC.Farm.Coordinator.Intake;

/// <summary>How an upload ended, in the intake's terms; the wire maps each to its status code.</summary>
public enum IntakeVerdict
{
    /// <summary>Stored and recorded (a result merged, initial weights taken, a checkpoint kept).</summary>
    Accepted,

    /// <summary>This exact result was already accepted: success, nothing changed.</summary>
    Duplicate,

    /// <summary>The lease is unknown, expired or superseded, or its shard no longer waits: nothing stored is used.</summary>
    Stale,

    /// <summary>The upload declares more bytes than its lease can need: refused before a byte is read.</summary>
    TooLarge,

    /// <summary>The bytes do not match the size and digest the header declared.</summary>
    Corrupt,

    /// <summary>The upload is malformed (bad digest, more bytes than declared, not weights a run can take).</summary>
    Invalid,

    /// <summary>Well-formed weights the run cannot use (non-finite values, other tensors): refused, the shard queued again.</summary>
    Rejected,
}

/// <summary>An upload's verdict, the stored digest when there is one, and the reason a person can read.</summary>
/// <param name="Verdict">How it ended.</param>
/// <param name="Digest">The stored content's digest (accepted or duplicate); empty otherwise.</param>
/// <param name="Reason">Why it was refused; empty when accepted.</param>
public sealed record IntakeOutcome(IntakeVerdict Verdict, string Digest, string Reason)
{
    /// <summary>True when the agent may consider its work delivered.</summary>
    public bool Delivered => Verdict is IntakeVerdict.Accepted or IntakeVerdict.Duplicate;
}
