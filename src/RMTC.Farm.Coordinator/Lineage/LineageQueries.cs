using System.Text.Json;
using System.Text.Json.Nodes;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Coordinator.Lineage;

/// <summary>
/// Answers lineage questions from the store: forward ("what went into this model"), reverse ("what was made from
/// this asset"), impact of withdrawing an asset, tamper checks, and in-toto provenance.
/// </summary>
public sealed class LineageQueries(IRunStore store, IArtifactStore artifacts)
{
    private static readonly JsonSerializerOptions Json = new(RunManifest.JsonOptions);

    /// <summary>A run's stored manifest by id or unique prefix, or null.</summary>
    /// <param name="idOrPrefix">A run id, or a prefix of exactly one.</param>
    /// <param name="resolvePrefix">The run id a prefix names, or null (the scheduler's, which holds every run): the store is never listed.</param>
    /// <param name="ct">Cancels the store reads.</param>
    public async Task<RunManifest?> FindRunAsync(string idOrPrefix, Func<string, string?> resolvePrefix, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(resolvePrefix);
        if (await store.GetAsync(idOrPrefix, ct) is { } exact)
        {
            return exact;
        }

        return resolvePrefix(idOrPrefix) is { } id && id != idOrPrefix ? await store.GetAsync(id, ct) : null;
    }

    /// <summary>Chain and seal problems of a run (empty when intact).</summary>
    public async Task<(RunManifest Manifest, IReadOnlyList<LineageEvent> Events, IReadOnlyList<string> Problems)> VerifyAsync(RunManifest manifest, CancellationToken ct)
    {
        var events = await store.ReadEventsAsync(manifest.RunId, ct);
        return (manifest, events, ChainVerifier.VerifyRun(manifest, events));
    }

    /// <summary>Everything that went into the model or weights <paramref name="digest"/>.</summary>
    public async Task<JsonObject> TraceUpAsync(string digest, CancellationToken ct, Func<RunManifest, bool>? maySee = null)
    {
        var runs = (await store.LookupAsync(LineageIndexKinds.Model, digest, ct))
            .Union(await store.LookupAsync(LineageIndexKinds.Weights, digest, ct)).Distinct().Order(StringComparer.Ordinal).ToList();
        var producers = new JsonArray();
        var manifests = await GetAllAsync(runs, ct);
        foreach (var id in runs)
        {
            if (manifests[id] is not { } m || maySee?.Invoke(m) == false)
            {
                continue;
            }

            var role = m.FinalModelDigest == digest ? "model"
                : m.InitialWeightsDigest == digest ? "initial weights"
                : m.Rounds.FirstOrDefault(r => r.OutputDigest == digest) is { } r ? $"round {r.Round} merged weights"
                : "shard result";
            producers.Add(Producer(m, role));
        }

        // A file made from a run's model after the run: an export (a variant of the model) or an inference's output.
        var derivations = (await DerivationsInvolvingAsync(digest, ct))
            .Where(d => d.Record.VariantDigest == digest && d.Record.Kind == DerivationKinds.Export || d.Record.Outputs.Contains(digest)).ToList();
        var derivedManifests = await GetAllAsync(derivations.Select(d => d.Record.RunId), ct);
        foreach (var (record, all) in derivations)
        {
            if (derivedManifests[record.RunId] is not { } m || maySee?.Invoke(m) == false)
            {
                continue;
            }

            var producer = Producer(m, record.Kind == DerivationKinds.Export ? $"{record.Format} export of the model" : "inference output");
            producer["model"] = m.FinalModelDigest;
            producer["derivation"] = JsonNode.Parse(record.ToJson());
            if (record.Kind == DerivationKinds.Inference
                && all.FirstOrDefault(e => e.Kind == DerivationKinds.Export && e.VariantDigest == record.VariantDigest) is { } export)
            {
                producer["export"] = JsonNode.Parse(export.ToJson());
            }

            producers.Add(producer);
        }

        return new JsonObject { ["digest"] = digest, ["direction"] = "up", ["producedBy"] = producers };
    }

    /// <summary>What a run contributed to <paramref name="role"/>: its data, licence, code (a model file too), seeds and rounds.</summary>
    private static JsonObject Producer(RunManifest m, string role)
    {
        var producer = ProducerOf(m, role);
        if (ModelFile(m) is { } file)
        {
            // Only for a scripted model, so the answers about built-in recipes keep their shape.
            producer["modelFile"] = file;
        }

        return producer;
    }

    private static JsonObject ProducerOf(RunManifest m, string role) => new()
    {
        ["runId"] = m.RunId,
        ["name"] = m.Name,
        ["state"] = m.State,
        ["role"] = role,
        ["recipe"] = m.Recipe,
        ["dataset"] = JsonSerializer.SerializeToNode(m.Dataset, Json),
        ["licenceClosure"] = JsonSerializer.SerializeToNode(m.LicenceClosure, Json),
        ["initialWeights"] = m.InitialWeightsDigest,
        ["code"] = JsonSerializer.SerializeToNode(m.Code, Json),
        ["seeds"] = JsonSerializer.SerializeToNode(m.Seeds, Json),
        ["spec"] = JsonSerializer.SerializeToNode(m.Spec, Json),
        ["rounds"] = new JsonArray(m.Rounds.Select(r => (JsonNode)new JsonObject
        {
            ["round"] = r.Round,
            ["input"] = r.InputDigest,
            ["output"] = r.OutputDigest,
            ["merged"] = new JsonArray(r.Attempts.Where(a => a.Outcome == AttemptOutcomes.Succeeded)
                .Select(a => (JsonNode)new JsonObject { ["shard"] = a.Shard, ["agent"] = a.AgentId, ["result"] = a.ResultDigest }).ToArray()),
        }).ToArray()),
    };

    /// <summary>The TorchScript file a run trained, with its declared licence and origin; null for a built-in recipe.</summary>
    private static JsonObject? ModelFile(RunManifest m) => m.Code.ModelDigest is not { } digest
        ? null
        : new JsonObject
        {
            ["digest"] = digest,
            ["bytes"] = m.Code.ModelBytes,
            ["file"] = m.Spec?.Model?.File,
            ["licence"] = m.Spec?.Model?.Licence,
            ["origin"] = m.Spec?.Model?.Origin,
        };

    /// <summary>Derivation records that made or used <paramref name="digest"/>, each with all records of its run.</summary>
    private async Task<IReadOnlyList<(DerivationRecord Record, IReadOnlyList<DerivationRecord> All)>> DerivationsInvolvingAsync(string digest, CancellationToken ct)
    {
        var found = new List<(DerivationRecord, IReadOnlyList<DerivationRecord>)>();
        foreach (var runId in await store.LookupAsync(LineageIndexKinds.Derived, digest, ct))
        {
            var all = await store.ReadDerivationsAsync(runId, ct);
            found.AddRange(all.Where(r => r.VariantDigest == digest || r.Inputs.Contains(digest) || r.Outputs.Contains(digest)).Select(r => (r, all)));
        }

        return found;
    }

    /// <summary>Every run, model and weights made from the dataset, asset or weights <paramref name="digest"/>.</summary>
    public async Task<JsonObject> TraceDownAsync(string digest, CancellationToken ct, Func<RunManifest, bool>? maySee = null)
    {
        var uses = new JsonArray();
        var users = await UsersAsync(digest, ct);
        var manifests = await GetAllAsync(users.Select(u => u.RunId), ct);
        // Fetched concurrently, like the manifests: one round trip's worth of waiting, not one per run.
        var ids = users.Select(u => u.RunId).Distinct().ToList();
        var derivations = ids.Zip(await Task.WhenAll(ids.Select(id => store.ReadDerivationsAsync(id, ct))))
            .ToDictionary(p => p.First, p => p.Second, StringComparer.Ordinal);
        foreach (var (kind, id) in users)
        {
            if (manifests[id] is not { } m || maySee?.Invoke(m) == false)
            {
                continue;
            }

            var derived = derivations[id];
            uses.Add(new JsonObject
            {
                ["runId"] = m.RunId,
                ["name"] = m.Name,
                ["state"] = m.State,
                ["usedAs"] = kind,
                ["dataset"] = m.Dataset.Name + " " + m.Dataset.Version,
                ["model"] = m.FinalModelDigest,
                ["roundOutputs"] = new JsonArray(m.Rounds.Where(r => r.OutputDigest is not null).Select(r => (JsonNode)JsonValue.Create(r.OutputDigest)!).ToArray()),
                ["exports"] = new JsonArray(derived.Where(d => d.Kind == DerivationKinds.Export).Select(d => (JsonNode)new JsonObject
                {
                    ["format"] = d.Format,
                    ["digest"] = d.VariantDigest,
                    ["at"] = d.At,
                    ["by"] = d.By,
                }).ToArray()),
                ["inferences"] = new JsonArray(derived.Where(d => d.Kind == DerivationKinds.Inference).Select(d => (JsonNode)new JsonObject
                {
                    ["model"] = d.VariantDigest,
                    ["inputs"] = new JsonArray(d.Inputs.Select(i => (JsonNode)JsonValue.Create(i)).ToArray()),
                    ["outputs"] = new JsonArray(d.Outputs.Select(o => (JsonNode)JsonValue.Create(o)).ToArray()),
                    ["at"] = d.At,
                    ["by"] = d.By,
                }).ToArray()),
            });
        }

        return new JsonObject { ["digest"] = digest, ["direction"] = "down", ["usedBy"] = uses };
    }

    /// <summary>
    /// Models affected by withdrawing an asset, each with a spec that retrains without it; or, for a model file's digest
    /// (its licence revoked), every model trained from that file, each with its spec to retrain from another file.
    /// </summary>
    public async Task<JsonObject> ImpactAsync(string assetDigest, CancellationToken ct, Func<RunManifest, bool>? maySee = null)
    {
        var affected = new JsonArray();
        var ids = await store.LookupAsync(LineageIndexKinds.Asset, assetDigest, ct);
        var codeIds = (await store.LookupAsync(LineageIndexKinds.Code, assetDigest, ct)).Except(ids).ToList();
        var manifests = await GetAllAsync(ids.Concat(codeIds), ct);
        foreach (var id in codeIds)
        {
            if (manifests[id] is not { } m || m.Spec is null || maySee?.Invoke(m) == false)
            {
                continue;
            }

            affected.Add(new JsonObject
            {
                ["runId"] = m.RunId,
                ["name"] = m.Name,
                ["state"] = m.State,
                ["model"] = m.FinalModelDigest,
                ["dataset"] = m.Dataset.Name + " " + m.Dataset.Version,
                ["usedAs"] = "model file",
                ["modelFile"] = ModelFile(m),
                ["retrainSpec"] = RetrainSpec.Yaml(m.Spec, m.Dataset.Path),
                ["specFile"] = RetrainSpec.FileName(m.RunId),
                ["command"] = RetrainSpec.Command(m.RunId),
            });
        }

        foreach (var id in ids)
        {
            if (manifests[id] is not { } m || m.Spec is null || maySee?.Invoke(m) == false)
            {
                continue;
            }

            var path = m.Dataset.AssetsDigest is { } list && artifacts.ReadJson(list) is { } json
                ? AssetList.FromJson(json).FirstOrDefault(a => a.Sha256 == assetDigest)?.Path
                : null;
            affected.Add(new JsonObject
            {
                ["runId"] = m.RunId,
                ["name"] = m.Name,
                ["state"] = m.State,
                ["model"] = m.FinalModelDigest,
                ["dataset"] = m.Dataset.Name + " " + m.Dataset.Version,
                ["usedAs"] = "asset",
                ["assetPath"] = path,
                ["retrainSpec"] = RetrainSpec.Yaml(m.Spec, m.Dataset.Path, assetDigest),
                ["specFile"] = RetrainSpec.FileName(m.RunId),
                ["command"] = RetrainSpec.Command(m.RunId),
            });
        }

        return new JsonObject { ["asset"] = assetDigest, ["affected"] = affected };
    }

    /// <summary>Drops and rebuilds the reverse indexes from every stored manifest.</summary>
    public async Task<(int Runs, long Entries)> ReindexAsync(CancellationToken ct)
    {
        await store.ClearIndexAsync(ct);
        var runs = 0;
        long entries = 0;
        foreach (var m in await store.ListAsync(ct))
        {
            var assets = m.Dataset.AssetsDigest is { } d && artifacts.ReadJson(d) is { } json ? AssetList.FromJson(json) : null;
            var e = LineageIndexer.EntriesOf(m, assets)
                .Concat((await store.ReadDerivationsAsync(m.RunId, ct)).SelectMany(LineageIndexer.EntriesOf)).Distinct().ToList();
            await store.IndexAsync(e, ct);
            runs++;
            entries += e.Count;
        }

        return (runs, entries);
    }

    /// <summary>Manifests fetched concurrently (Redis pipelines them: one round trip's worth of waiting, not one per run).</summary>
    private async Task<Dictionary<string, RunManifest?>> GetAllAsync(IEnumerable<string> runIds, CancellationToken ct)
    {
        var ids = runIds.Distinct().ToList();
        var manifests = await Task.WhenAll(ids.Select(id => store.GetAsync(id, ct)));
        return ids.Zip(manifests).ToDictionary(p => p.First, p => p.Second, StringComparer.Ordinal);
    }

    private async Task<IReadOnlyList<(string Kind, string RunId)>> UsersAsync(string digest, CancellationToken ct)
    {
        var found = new List<(string, string)>();
        foreach (var kind in new[] { LineageIndexKinds.Dataset, LineageIndexKinds.Asset, LineageIndexKinds.Code, LineageIndexKinds.Weights, LineageIndexKinds.Derived })
        {
            foreach (var id in await store.LookupAsync(kind, digest, ct))
            {
                if (found.All(f => f.Item2 != id))
                {
                    found.Add((kind, id));
                }
            }
        }

        return found.OrderBy(f => f.Item2, StringComparer.Ordinal).ToList();
    }
}
