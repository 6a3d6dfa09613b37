namespace RMTC.Farm.Coordinator.Leadership;

/// <summary>Where a coordinator stands in leader election.</summary>
public enum LeaderPhase
{
    /// <summary>Another coordinator leads (or none yet): this one waits, recovers nothing, dispatches nothing.</summary>
    Standby,

    /// <summary>This coordinator took the lease and recovers the live runs from the store; clients wait.</summary>
    Recovering,

    /// <summary>This coordinator leads and serves.</summary>
    Leading,

    /// <summary>This coordinator lost the lease while leading: it writes nothing more and stops, to come back as a standby.</summary>
    SteppedDown,
}
