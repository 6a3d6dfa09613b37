using RMTC.Farm.Coordinator.Lineage;
using RMTC.Farm.Core.Jobs;
using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Coordinator.Runs;

/// <summary>A checked spec ready to schedule: its first manifest, the shard plan, and what it trains and is judged on.</summary>
/// <param name="Manifest">The run's manifest as it starts (queued, no weights yet).</param>
/// <param name="Spec">The parsed spec.</param>
/// <param name="Plan">Per shard, the indices of its samples in the dataset's sample list.</param>
/// <param name="Assets">Every asset the run trains on (and, for render data, the source renders), as recorded in lineage.</param>
/// <param name="EvaluationIndices">The held-out samples each round is evaluated on; empty without evaluation.</param>
public sealed record PreparedRun(RunManifest Manifest, JobSpec Spec, int[][] Plan, IReadOnlyList<AssetEntry> Assets, int[] EvaluationIndices);
