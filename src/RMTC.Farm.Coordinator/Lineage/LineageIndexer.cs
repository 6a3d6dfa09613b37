using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Coordinator.Lineage;

/// <summary>What a run contributes to the reverse indexes; derived from its manifest alone, so indexes can always be rebuilt.</summary>
public static class LineageIndexer
{
    /// <summary>Every index entry of a run: its dataset, assets, model file (code), weights in and out, and its model.</summary>
    public static IReadOnlyList<LineageIndexEntry> EntriesOf(RunManifest m, IReadOnlyList<AssetEntry>? assets)
    {
        var entries = new List<LineageIndexEntry>();
        void Add(string kind, string? digest)
        {
            if (!string.IsNullOrEmpty(digest))
            {
                entries.Add(new LineageIndexEntry(kind, digest, m.RunId));
            }
        }

        Add(LineageIndexKinds.Dataset, m.Dataset.Digest);
        foreach (var asset in assets ?? [])
        {
            Add(LineageIndexKinds.Asset, asset.Sha256);
        }

        Add(LineageIndexKinds.Code, m.Code.ModelDigest);
        Add(LineageIndexKinds.Weights, m.InitialWeightsDigest);
        foreach (var round in m.Rounds)
        {
            Add(LineageIndexKinds.Weights, round.OutputDigest);
            foreach (var shard in round.Shards)
            {
                Add(LineageIndexKinds.Weights, shard.ResultDigest);
            }
        }

        Add(LineageIndexKinds.Model, m.FinalModelDigest);
        return entries.Distinct().ToList();
    }

    /// <summary>Index entries of an export or inference: every file it made or used, as <see cref="LineageIndexKinds.Derived"/>.</summary>
    public static IReadOnlyList<LineageIndexEntry> EntriesOf(DerivationRecord d) =>
        new[] { d.VariantDigest }.Concat(d.Inputs).Concat(d.Outputs)
            .Where(digest => !string.IsNullOrEmpty(digest))
            .Select(digest => new LineageIndexEntry(LineageIndexKinds.Derived, digest, d.RunId))
            .Distinct().ToList();
}
