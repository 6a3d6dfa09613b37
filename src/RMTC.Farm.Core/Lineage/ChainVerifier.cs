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
}
