using System.Text.Json;
using System.Text.Json.Nodes;
using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Coordinator.Lineage;

/// <summary>
/// A run as an in-toto Statement v1 whose predicate is SLSA provenance v1: the model is the subject; the dataset,
/// its asset list, the initial weights and the code are resolved dependencies.
/// </summary>
public static class InTotoExport
{
    public const string StatementType = "https://in-toto.io/Statement/v1";
    public const string PredicateType = "https://slsa.dev/provenance/v1";
    public const string BuildType = "https://rmtc.farm/training/v1";

    public static JsonObject Statement(RunManifest m)
    {
        if (m.FinalModelDigest is null)
        {
            throw new InvalidOperationException($"run {m.RunId} has no model yet (state {m.State}): provenance is exported for finished runs");
        }

        var options = RunManifest.JsonOptions;
        var dependencies = new JsonArray
        {
            new JsonObject
            {
                ["name"] = $"dataset:{m.Dataset.Name}@{m.Dataset.Version}",
                ["uri"] = new Uri(m.Dataset.Path).AbsoluteUri,
                ["digest"] = new JsonObject { ["sha256"] = m.Dataset.Digest },
                ["annotations"] = new JsonObject
                {
                    ["licence"] = m.Dataset.Licence,
                    ["owner"] = m.Dataset.Owner,
                    ["consent"] = m.Dataset.Consent,
                    ["rights"] = JsonSerializer.SerializeToNode(m.Dataset.Rights, options),
                    ["samples"] = m.Dataset.Samples,
                },
            },
            new JsonObject
            {
                ["name"] = "initial-weights",
                ["digest"] = new JsonObject { ["sha256"] = m.InitialWeightsDigest },
                ["annotations"] = new JsonObject { ["seed"] = m.Seeds.Init, ["recipe"] = m.Recipe },
            },
            new JsonObject
            {
                ["name"] = $"rmtc@{m.Code.RmtcVersion}",
                ["annotations"] = new JsonObject { ["runtime"] = m.Code.Runtime, ["os"] = m.Code.Os, ["torchsharp"] = m.Code.TorchSharpVersion },
            },
        };
        if (m.Code.ModelDigest is { } model)
        {
            // A scripted model is the run's code: a dependency with its own licence, like the data.
            dependencies.Add(new JsonObject
            {
                ["name"] = $"model:{Path.GetFileName(m.Spec?.Model?.File ?? "model.pt")}",
                ["digest"] = new JsonObject { ["sha256"] = model },
                ["annotations"] = new JsonObject { ["licence"] = m.Spec?.Model?.Licence, ["origin"] = m.Spec?.Model?.Origin, ["format"] = "torchscript" },
            });
        }

        if (m.Dataset.AssetsDigest is { } assets)
        {
            dependencies.Add(new JsonObject
            {
                ["name"] = $"assets:{m.Dataset.Name}@{m.Dataset.Version}",
                ["digest"] = new JsonObject { ["sha256"] = assets },
                ["mediaType"] = "application/json",
            });
        }

        return new JsonObject
        {
            ["_type"] = StatementType,
            ["subject"] = new JsonArray
            {
                new JsonObject { ["name"] = $"{m.Name}.safetensors", ["digest"] = new JsonObject { ["sha256"] = m.FinalModelDigest } },
            },
            ["predicateType"] = PredicateType,
            ["predicate"] = new JsonObject
            {
                ["buildDefinition"] = new JsonObject
                {
                    ["buildType"] = BuildType,
                    ["externalParameters"] = new JsonObject { ["jobSpec"] = JsonSerializer.SerializeToNode(m.Spec, options) },
                    ["internalParameters"] = new JsonObject
                    {
                        ["seeds"] = JsonSerializer.SerializeToNode(m.Seeds, options),
                        ["licenceClosure"] = JsonSerializer.SerializeToNode(m.LicenceClosure, options),
                        ["rounds"] = new JsonArray(m.Rounds.Select(r => (JsonNode)new JsonObject
                        {
                            ["round"] = r.Round,
                            ["input"] = r.InputDigest,
                            ["output"] = r.OutputDigest,
                            ["merged"] = new JsonArray(r.MergedResults.Select(d => (JsonNode)JsonValue.Create(d)!).ToArray()),
                        }).ToArray()),
                    },
                    ["resolvedDependencies"] = dependencies,
                },
                ["runDetails"] = new JsonObject
                {
                    ["builder"] = new JsonObject { ["id"] = "https://rmtc.farm/coordinator" },
                    ["metadata"] = new JsonObject
                    {
                        ["invocationId"] = m.RunId,
                        ["startedOn"] = m.SubmittedAt.ToUniversalTime().ToString("O"),
                        ["finishedOn"] = m.FinishedAt?.ToUniversalTime().ToString("O"),
                    },
                    ["byproducts"] = m.Seal is null ? new JsonArray() : new JsonArray
                    {
                        new JsonObject { ["name"] = "run-manifest", ["digest"] = new JsonObject { ["sha256"] = m.Seal.ManifestDigest } },
                    },
                },
            },
        };
    }
}
