namespace RMTC.Farm.Core.Lineage;

/// <summary>Checks a run's event chain and seal; every finding names the entry and what is wrong.</summary>
public static class ChainVerifier
{
    /// <summary>Problems found (empty when the chain is intact).</summary>
    public static IReadOnlyList<string> Verify(IReadOnlyList<LineageEvent> events)
    {
        var problems = new List<string>();
        var expectedPrev = LineageEvent.Genesis;
        for (var i = 0; i < events.Count; i++)
        {
            var e = events[i];
            if (e.Seq != i + 1)
            {
                problems.Add($"entry {i + 1}: sequence number is {e.Seq} (an entry was inserted or deleted before it)");
            }

            if (e.PrevHash != expectedPrev)
            {
                problems.Add($"entry {e.Seq} ({e.Kind}): previous hash does not match entry {e.Seq - 1} (an entry was changed, inserted or deleted)");
            }

            var recomputed = LineageEvent.ComputeHash(e.Seq, e.At, e.Kind, e.Data, e.PrevHash);
            if (recomputed != e.Hash)
            {
                problems.Add($"entry {e.Seq} ({e.Kind}): content does not match its hash (the entry was edited)");
            }

            expectedPrev = e.Hash;
        }

        return problems;
    }

    /// <summary>Checks the chain and, for an ended run, that the manifest and the chain's seal agree.</summary>
    public static IReadOnlyList<string> VerifyRun(RunManifest manifest, IReadOnlyList<LineageEvent> events)
    {
        var problems = new List<string>(Verify(events));
        if (events.Count == 0)
        {
            problems.Add($"run {manifest.RunId} has no event log");
            return problems;
        }

        if (manifest.Seal is null)
        {
            if (RunStates.IsFinal(manifest.State))
            {
                problems.Add($"run {manifest.RunId} ended ({manifest.State}) but its manifest carries no seal");
            }

            if (events[^1].Kind == "sealed")
            {
                problems.Add("the event log ends with a seal but the manifest has none (the manifest was replaced)");
            }

            return problems;
        }

        var seal = manifest.Seal;
        if (!ManifestSeal.Matches(manifest, seal.ManifestDigest))
        {
            var digest = ManifestSeal.DigestOf(manifest);
            problems.Add($"manifest content does not match its seal (sealed {seal.ManifestDigest[..12]}, now {digest[..12]}): the manifest was edited");
        }

        var sealEvent = events[^1];
        if (sealEvent.Kind != "sealed")
        {
            problems.Add($"the event log does not end with the seal (last entry {sealEvent.Seq} is {sealEvent.Kind}): entries were added after sealing or the seal was deleted");
            sealEvent = events.LastOrDefault(e => e.Kind == "sealed");
            if (sealEvent is null)
            {
                return problems;
            }
        }

        if (sealEvent.Data["manifestDigest"]?.GetValue<string>() != seal.ManifestDigest)
        {
            problems.Add("the seal event and the manifest name different manifest digests");
        }

        if (sealEvent.Data["chainHead"]?.GetValue<string>() != seal.ChainHead || sealEvent.PrevHash != seal.ChainHead)
        {
            problems.Add("the seal does not follow the chain head it names");
        }

        if (sealEvent.Seq != seal.Events + 1)
        {
            problems.Add($"the manifest was sealed after {seal.Events} events but the seal is entry {sealEvent.Seq}");
        }

        return problems;
    }
}
