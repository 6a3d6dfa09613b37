using System.Text.Json.Nodes;
using RMTC.Farm.Coordinator.Lineage;
using RMTC.Farm.Coordinator.Runs;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Coordinator.Explorer;

/// <summary>
/// The lineage of the runs around a digest as nodes and edges a person can follow from left to right:
/// inference → export → model → run → round → shard result → dataset → asset, with the licence closure beside the
/// dataset. A run is one node (<see cref="AddCollapsedRun"/>) unless it is expanded into its rounds and shard results
/// (<see cref="AddRun"/>), so a dataset used by a thousand runs stays a column of runs, not of their shards.
/// The page lays nodes out in columns by <c>kind</c>; each node carries its licence and CAWG decisions where it has them.
/// </summary>
internal sealed class ExplorerGraph(IArtifactStore artifacts)
{
    /// <summary>Assets drawn per dataset: the rest is summarised in one node (a dataset may hold thousands).</summary>
    public const int AssetsShown = 8;

    private readonly Dictionary<string, JsonObject> _nodes = new(StringComparer.Ordinal);
    private readonly HashSet<(string, string)> _edges = new();

    /// <summary>Adds one run as a single node between its model and its dataset; <paramref name="expandHref"/> opens it in full.</summary>
    public void AddCollapsedRun(RunSummary m, IReadOnlyList<DerivationRecord> derivations, string expandHref)
    {
        var dataset = AddDataset(m);
        var run = RunNode(m, expandHref);
        Edge(run, dataset);
        AddModel(m, derivations, run);
    }

    /// <summary>Adds one run's whole lineage, and the derivations (exports, inferences) made from its model.</summary>
    public void AddRun(RunManifest m, IReadOnlyList<DerivationRecord> derivations)
    {
        var summary = RunSummary.Of(m);
        var dataset = AddDataset(summary);
        var initial = Node("weights", m.InitialWeightsDigest, "initial weights", m.InitialWeightsDigest, null, new JsonObject { ["seed"] = m.Seeds.Init });
        string? previous = initial;
        foreach (var r in m.Rounds)
        {
            var round = Node("round", r.OutputDigest ?? $"{m.RunId}:round{r.Round}", $"round {r.Round} of {m.RunId}", r.OutputDigest, null, new JsonObject
            {
                ["runId"] = m.RunId,
                ["meanLoss"] = r.MeanLoss,
                ["strategy"] = r.MergeStrategy,
                ["input"] = r.InputDigest,
            });
            Edge(round, previous);
            foreach (var a in r.Attempts.Where(a => a.Outcome == AttemptOutcomes.Succeeded && a.ResultDigest is not null))
            {
                var shard = Node("shard", a.ResultDigest!, $"r{r.Round} shard {a.Shard} · {a.AgentId}", a.ResultDigest, null, new JsonObject
                {
                    ["agent"] = a.AgentId,
                    ["samples"] = a.Samples,
                    ["finalLoss"] = a.FinalLoss,
                    ["device"] = a.Device,
                });
                Edge(round, shard);
                Edge(shard, dataset);
            }

            previous = round;
        }

        AddModel(summary, derivations, previous);
    }

    /// <summary>A node standing for <paramref name="count"/> runs left off this page, opening the page that has them.</summary>
    public void AddMoreRuns(int count, string href) =>
        Node("run", "more", $"… {count} more run{(count == 1 ? "" : "s")}", null, href, null);

    private string RunNode(RunSummary m, string expandHref) =>
        Node("run", m.RunId, m.RunId, null, expandHref, new JsonObject
        {
            ["runId"] = m.RunId,
            ["name"] = m.Name,
            ["state"] = m.State,
            ["recipe"] = m.Recipe,
            ["rounds"] = m.Rounds,
            ["submitted"] = m.SubmittedAt,
            ["model"] = m.FinalModelDigest,
        });

    private string AddDataset(RunSummary m)
    {
        if (_nodes.ContainsKey("dataset:" + m.Dataset.Digest))
        {
            // Drawn already for another run: a dataset used by many runs is read from the store once.
            return "dataset:" + m.Dataset.Digest;
        }

        var dataset = Node("dataset", m.Dataset.Digest, "dataset " + ExplorerJson.DatasetLabel(m.Dataset), m.Dataset.Digest, null, new JsonObject
        {
            ["licence"] = m.Dataset.Licence,
            ["owner"] = m.Dataset.Owner,
            ["consent"] = m.Dataset.Consent,
            ["samples"] = m.Dataset.Samples,
            ["rights"] = ExplorerJson.Rights(m.Dataset.Rights),
        });
        if (m.LicenceClosure is { } closure)
        {
            var licence = Node("licence", "closure:" + m.Dataset.Digest, "licence " + string.Join(" + ", closure.Licences), null, null, ExplorerJson.Closure(closure));
            Edge(dataset, licence);
        }

        if (m.Dataset.AssetsDigest is { } list && artifacts.ReadJson(list) is { } json)
        {
            var assets = AssetList.FromJson(json);
            foreach (var a in assets.Take(AssetsShown))
            {
                Edge(dataset, Node("asset", a.Sha256, a.Path, a.Sha256, $"impact.html?asset={a.Sha256}", new JsonObject { ["licence"] = m.Dataset.Licence }));
            }

            if (assets.Count > AssetsShown)
            {
                Edge(dataset, Node("asset", "more:" + m.Dataset.Digest, $"… {assets.Count - AssetsShown} more assets", null, $"report.html?run={m.RunId}", null));
            }
        }

        return dataset;
    }

    /// <summary>The run's model, linked to <paramref name="madeFrom"/> (its last round, or its run node), and what was made from it.</summary>
    private void AddModel(RunSummary m, IReadOnlyList<DerivationRecord> derivations, string? madeFrom)
    {
        if (m.FinalModelDigest is { } model)
        {
            // Named by its digest, not the job's name: two runs of one spec make two models a reader must tell apart,
            // and the run it came from is the node beside it (or named in the card).
            var modelNode = Node("model", model, $"model {model[..12]}", model, null, new JsonObject
            {
                ["runId"] = m.RunId,
                ["licences"] = m.Licences,
            });
            Edge(modelNode, madeFrom);
            // Exports first: an inference hangs off the export it ran.
            foreach (var d in derivations.OrderBy(d => d.Kind == DerivationKinds.Export ? 0 : 1))
            {
                if (d.Kind == DerivationKinds.Export)
                {
                    Edge(Node("export", d.VariantDigest, $"{d.Format} export", d.VariantDigest, null, new JsonObject { ["by"] = d.By, ["at"] = d.At }), modelNode);
                }
                else if (d.Kind == DerivationKinds.Inference)
                {
                    var from = d.VariantDigest == model || string.IsNullOrEmpty(d.VariantDigest) ? modelNode : "export:" + d.VariantDigest;
                    foreach (var o in d.Outputs)
                    {
                        Edge(Node("inference", o, "inference output", o, null, new JsonObject { ["by"] = d.By, ["at"] = d.At }), _nodes.ContainsKey(from) ? from : modelNode);
                    }
                }
            }
        }
    }

    /// <summary>The graph as JSON; the node whose digest is <paramref name="focus"/> is marked.</summary>
    public JsonObject ToJson(string focus)
    {
        foreach (var n in _nodes.Values)
        {
            n["focus"] = (string?)n["digest"] == focus;
        }

        return new JsonObject
        {
            ["nodes"] = new JsonArray(_nodes.Values.Select(n => (JsonNode)n.DeepClone()).ToArray()),
            ["edges"] = new JsonArray(_edges.Select(e => (JsonNode)new JsonObject { ["from"] = e.Item1, ["to"] = e.Item2 }).ToArray()),
        };
    }

    private string Node(string kind, string key, string label, string? digest, string? href, JsonObject? detail)
    {
        var id = kind + ":" + key;
        if (!_nodes.ContainsKey(id))
        {
            _nodes[id] = new JsonObject
            {
                ["id"] = id,
                ["kind"] = kind,
                ["label"] = label,
                ["digest"] = digest,
                ["href"] = href ?? (digest is null ? null : $"lineage.html?digest={digest}"),
                ["detail"] = detail,
            };
        }

        return id;
    }

    private void Edge(string from, string? to)
    {
        if (to is not null && from != to)
        {
            _edges.Add((from, to));
        }
    }
}
