using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Coordinator.Lineage;

/// <summary>
/// Records what is made from a run's model after the run (exports, inferences) beside its sealed manifest, chains each
/// record to the previous one of the run, and indexes the files involved so lineage traces reach them.
/// </summary>
public sealed class DerivationLog(IRunStore store)
{
    // One writer at a time keeps each run's Previous links a single chain (derivations are rare; one gate is enough).
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>
    /// Appends <paramref name="record"/> (its <see cref="DerivationRecord.Previous"/> is set here) and returns its digest.
    /// An export of a file already recorded for the run is not recorded twice: the earlier record's digest is returned.
    /// </summary>
    public async Task<string> AppendAsync(DerivationRecord record, CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            var existing = await store.ReadDerivationsAsync(record.RunId, ct);
            if (record.Kind == DerivationKinds.Export
                && existing.FirstOrDefault(d => d.Kind == DerivationKinds.Export && d.VariantDigest == record.VariantDigest) is { } earlier)
            {
                return earlier.Digest();
            }

            record.Previous = existing.Count == 0 ? null : existing[^1].Digest();
            await store.AppendDerivationAsync(record.RunId, record, ct);
            await store.IndexAsync(LineageIndexer.EntriesOf(record), ct);
            return record.Digest();
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The run's records, oldest first.</summary>
    public Task<IReadOnlyList<DerivationRecord>> ReadAsync(string runId, CancellationToken ct) => store.ReadDerivationsAsync(runId, ct);

    /// <summary>Every record (of any run) that made or used the file <paramref name="digest"/>, with its run id.</summary>
    public async Task<IReadOnlyList<DerivationRecord>> InvolvingAsync(string digest, CancellationToken ct)
    {
        var found = new List<DerivationRecord>();
        foreach (var runId in await store.LookupAsync(LineageIndexKinds.Derived, digest, ct))
        {
            found.AddRange((await store.ReadDerivationsAsync(runId, ct)).Where(r => r.VariantDigest == digest || r.Inputs.Contains(digest) || r.Outputs.Contains(digest)));
        }

        return found;
    }

    /// <summary>The export record of the ONNX file <paramref name="onnxDigest"/>, or null when the farm never exported it.</summary>
    public async Task<DerivationRecord?> FindExportAsync(string onnxDigest, CancellationToken ct) =>
        (await InvolvingAsync(onnxDigest, ct)).FirstOrDefault(r => r.Kind == DerivationKinds.Export && r.VariantDigest == onnxDigest);
}
