using System.Text.Json;
using System.Text.Json.Nodes;
using RMTC.Farm.Coordinator.Runs;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Core.Rights;

namespace RMTC.Farm.Coordinator.Explorer;

/// <summary>
/// JSON shapes the Explorer's pages read (built as nodes: no reflection-based serialisation in the slim host). 64-bit
/// values (seeds) go in as they are: <see cref="ExplorerApi.Text"/> writes them as strings.
/// </summary>
internal static class ExplorerJson
{
    public static JsonObject Rights(IReadOnlyDictionary<string, RightsAssertion> rights)
    {
        var o = new JsonObject();
        foreach (var (label, a) in rights.OrderBy(r => r.Key, StringComparer.Ordinal))
        {
            o[label] = a.ToString();
        }

        return o;
    }

    public static JsonObject Closure(LicenceClosure c)
    {
        var rights = new JsonObject();
        foreach (var (label, r) in c.Rights.OrderBy(r => r.Key, StringComparer.Ordinal))
        {
            rights[label] = r.ConstraintInfo.Count == 0 ? r.Use : $"{r.Use} ({string.Join("; ", r.ConstraintInfo)})";
        }

        return new JsonObject
        {
            ["licences"] = Strings(c.Licences),
            ["owners"] = Strings(c.Owners),
            ["consents"] = Strings(c.Consents),
            ["sources"] = Strings(c.Sources),
            ["rights"] = rights,
        };
    }

    public static JsonArray Strings(IEnumerable<string> values) => new(values.Select(v => (JsonNode)JsonValue.Create(v)).ToArray());

    /// <summary>One line of the runs list.</summary>
    public static JsonObject Summary(RunManifest m) => Summary(RunSummary.Of(m));

    /// <summary>One line of the runs list, from the published summary (no manifest read).</summary>
    public static JsonObject Summary(RunSummary m) => new()
    {
        ["runId"] = m.RunId,
        ["name"] = m.Name,
        ["state"] = m.State,
        ["submittedBy"] = m.SubmittedBy,
        ["submittedAt"] = m.SubmittedAt,
        ["finishedAt"] = m.FinishedAt,
        ["recipe"] = m.Recipe,
        ["show"] = m.Show,
        ["dataset"] = DatasetLabel(m.Dataset),
        ["datasetDigest"] = m.Dataset.Digest,
        ["licence"] = m.Licences,
        ["rounds"] = m.Rounds,
        ["plannedRounds"] = m.PlannedRounds,
        ["model"] = m.FinalModelDigest,
    };

    private static JsonObject Attempt(AttemptRecord a) => new()
    {
        ["shard"] = a.Shard,
        ["attempt"] = a.Attempt,
        ["agent"] = a.AgentId,
        ["startedAt"] = a.StartedAt,
        ["endedAt"] = a.EndedAt,
        ["outcome"] = a.Outcome,
        ["result"] = a.ResultDigest,
        ["finalLoss"] = a.FinalLoss,
        ["samples"] = a.Samples,
        ["device"] = a.Device,
        ["error"] = a.Error,
        ["stoppedBy"] = a.StoppedBy,
    };

    /// <summary>A dataset's name and version as people write them: "synth-denoiser v1" (a bare number gets its "v").</summary>
    public static string DatasetLabel(DatasetRecord d) =>
        d.Version.Length == 0 ? d.Name : char.IsAsciiDigit(d.Version[0]) ? $"{d.Name} v{d.Version}" : $"{d.Name} {d.Version}";

    /// <summary>A whole run: rounds (loss, held-out figures), shard and task attempts (timeline), merged digests, licence closure and the chain's verification.</summary>
    public static JsonObject Run(RunManifest m, IReadOnlyList<string> problems, int events, IReadOnlyList<DerivationRecord> derivations)
    {
        var o = Summary(m);
        o["error"] = m.Error;
        o["initialWeights"] = m.InitialWeightsDigest;
        o["datasetOwner"] = m.Dataset.Owner;
        o["datasetConsent"] = m.Dataset.Consent;
        o["datasetLicence"] = m.Dataset.Licence;
        o["datasetPath"] = m.Dataset.Path;
        o["datasetSamples"] = m.Dataset.Samples;
        o["datasetRights"] = Rights(m.Dataset.Rights);
        o["licenceClosure"] = m.LicenceClosure is { } c ? Closure(c) : null;
        o["code"] = JsonSerializer.SerializeToNode(m.Code, RunManifest.JsonOptions);
        o["modelFile"] = m.Code.ModelDigest is { } model ? new JsonObject
        {
            ["digest"] = model,
            ["file"] = m.Spec?.Model?.File,
            ["licence"] = m.Spec?.Model?.Licence,
            ["origin"] = m.Spec?.Model?.Origin,
        } : null;
        o["seeds"] = JsonSerializer.SerializeToNode(m.Seeds, RunManifest.JsonOptions);
        o["spec"] = m.Spec is { } s ? new JsonObject
        {
            ["shards"] = s.Shards,
            ["rounds"] = s.Rounds,
            ["seed"] = s.Seed,
            ["merge"] = s.Merge.Strategy,
            ["excludeAssets"] = Strings(s.ExcludeAssets),
        } : null;
        o["rounds"] = new JsonArray(m.Rounds.Select(r => (JsonNode)new JsonObject
        {
            ["round"] = r.Round,
            ["startedAt"] = r.StartedAt,
            ["endedAt"] = r.EndedAt,
            ["input"] = r.InputDigest,
            ["output"] = r.OutputDigest,
            ["meanLoss"] = r.MeanLoss,
            ["strategy"] = r.MergeStrategy,
            ["merged"] = Strings(r.MergedResults),
            ["evaluation"] = r.Evaluation is { } e ? new JsonObject
            {
                ["loss"] = e.Loss,
                ["accuracy"] = e.Accuracy,
                ["psnr"] = e.Psnr,
                ["samples"] = e.Samples,
            } : null,
            ["shards"] = new JsonArray(r.Shards.Select(x => (JsonNode)new JsonObject
            {
                ["shard"] = x.Shard,
                ["samples"] = x.Samples,
                ["seed"] = x.Seed,
            }).ToArray()),
            ["attempts"] = new JsonArray(r.Attempts.Select(a => (JsonNode)Attempt(a)).ToArray()),
        }).ToArray());
        // The preparation and each round's evaluation: leased like shards, so their attempts have the same shape.
        o["tasks"] = new JsonArray((m.Tasks ?? []).Select(t => (JsonNode)new JsonObject
        {
            ["kind"] = t.Kind,
            ["round"] = t.Round,
            ["input"] = t.InputDigest,
            ["output"] = t.OutputDigest,
            ["queuedAt"] = t.QueuedAt,
            ["endedAt"] = t.EndedAt,
            ["error"] = t.Error,
            ["attempts"] = new JsonArray(t.Attempts.Select(a => (JsonNode)Attempt(a)).ToArray()),
        }).ToArray());
        o["verification"] = new JsonObject
        {
            ["intact"] = problems.Count == 0,
            ["events"] = events,
            ["sealed"] = m.Seal is not null,
            ["problems"] = Strings(problems),
        };
        o["derivations"] = new JsonArray(derivations.Select(d => (JsonNode)new JsonObject
        {
            ["kind"] = d.Kind,
            ["format"] = d.Format,
            ["variant"] = d.VariantDigest,
            ["inputs"] = Strings(d.Inputs),
            ["outputs"] = Strings(d.Outputs),
            ["at"] = d.At,
            ["by"] = d.By,
        }).ToArray());
        return o;
    }
}
