using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using RMTC.Farm.Cli.Client;
using RMTC.Farm.Core.Digests;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Cli.Commands;

/// <summary><c>rmtc lineage ...</c>: what went into a model, what came out of a dataset, and whether the record holds.</summary>
internal static class LineageCommand
{
    public static Command Create()
    {
        var lineage = new Command("lineage", "Query lineage: manifests, traces up and down, the impact of withdrawing an asset, tamper checks, provenance export.");
        lineage.Subcommands.Add(Show());
        lineage.Subcommands.Add(Verify());
        lineage.Subcommands.Add(Trace());
        lineage.Subcommands.Add(Impact());
        lineage.Subcommands.Add(Export());
        lineage.Subcommands.Add(Reindex());
        return lineage;
    }

    private static Command Show()
    {
        var run = new Argument<string>("RUN") { Description = "Run id (or a unique prefix)" };
        var coordinator = FarmClient.CoordinatorOption();
        var json = FarmClient.JsonOption();
        var command = new Command("show", "Show a run's lineage: dataset and rights, code, seeds, rounds with every shard attempt, the model.") { run, coordinator, json };
        command.SetAction((parse, ct) => FarmClient.RunAsync(parse.GetRequiredValue(coordinator), async channel =>
        {
            var doc = await new LineageService.LineageServiceClient(channel).ShowAsync(new LineageRunRequest { RunId = parse.GetRequiredValue(run) }, cancellationToken: ct);
            if (parse.GetValue(json))
            {
                Console.WriteLine(doc.Json);
                return 0;
            }

            var m = RunManifest.FromJson(doc.Json);
            var inv = CultureInfo.InvariantCulture;
            Console.WriteLine(string.Create(inv, $"run        {m.RunId} ({m.Name}), {m.State}, submitted by {m.SubmittedBy} at {m.SubmittedAt:u}"));
            Console.WriteLine(string.Create(inv, $"dataset    {m.Dataset.Name} v{m.Dataset.Version}, {m.Dataset.Samples} samples, licence {m.Dataset.Licence}, owner {m.Dataset.Owner}"));
            Console.WriteLine(string.Create(inv, $"           sha256:{m.Dataset.Digest}"));
            Console.WriteLine(string.Create(inv, $"recipe     {m.Recipe}; code rmtc {m.Code.RmtcVersion}, {m.Code.Runtime}, TorchSharp {m.Code.TorchSharpVersion}"));
            if (m.Code.ModelDigest is { } modelFile)
            {
                Console.WriteLine(string.Create(inv, $"model file sha256:{modelFile} ({m.Spec?.Model?.File}), licence {m.Spec?.Model?.Licence}{(m.Spec?.Model?.Origin is { } origin ? $", origin: {origin}" : "")}"));
            }

            Console.WriteLine(string.Create(inv, $"seeds      run {m.Seeds.Run}, init {m.Seeds.Init}, plan {m.Seeds.ShardPlan}"));
            Console.WriteLine(string.Create(inv, $"initial    sha256:{m.InitialWeightsDigest}{Tensors(m.InitialWeightsTensorsDigest)}"));
            var tasks = m.Tasks ?? [];
            PrintTaskAttempts(tasks.Where(t => t.Kind == TaskKinds.Prepare), "prepare");
            foreach (var r in m.Rounds)
            {
                Console.WriteLine(string.Create(inv, $"round {r.Round}    {r.MergeStrategy}, loss {r.MeanLoss:G5} -> sha256:{r.OutputDigest}{Tensors(r.OutputTensorsDigest)}"));
                foreach (var a in r.Attempts)
                {
                    Console.WriteLine("  shard " + a.Shard + Attempt(a));
                }

                foreach (var eaten in r.Quorum?.Eaten ?? [])
                {
                    Console.WriteLine(string.Create(inv, $"  shard {eaten.Shard} eaten by {eaten.By} ({eaten.Via}) at {eaten.At:u}: the round closed without it"));
                }

                if (r.Evaluation is { } e)
                {
                    var metric = e.Accuracy is { } accuracy ? string.Create(inv, $", accuracy {accuracy:P1}") : e.Psnr is { } psnr ? string.Create(inv, $", PSNR {psnr:F2} dB") : "";
                    Console.WriteLine(string.Create(inv, $"  held out: loss {e.Loss:G5}{metric} on {e.Samples} samples"));
                }

                PrintTaskAttempts(tasks.Where(t => t.Kind == TaskKinds.Evaluate && t.Round == r.Round), "evaluate");
            }

            if (m.Controls is { } controls)
            {
                Console.WriteLine($"controls   {string.Join(", ", new[] { controls.Priority is { } p ? $"priority {p}" : "", controls.MaxRetries is { } r ? $"max retries {r}" : "" }.Where(s => s.Length > 0))} (set after submission)");
            }

            foreach (var c in m.Comments ?? [])
            {
                Console.WriteLine(string.Create(inv, $"comment {c.Number}  {c.User} at {c.At:u}: {c.Subject}{(string.IsNullOrWhiteSpace(c.Message) ? "" : " - " + c.Message)}"));
            }

            Console.WriteLine($"model      {(m.FinalModelDigest is null ? "(none yet)" : "sha256:" + m.FinalModelDigest)}");
            if (m.FinalModelTensorsDigest is { } tensors)
            {
                // The file digest covers metadata naming the run; this one is what a rerun that trains the same weights shares.
                Console.WriteLine($"tensors    sha256:{tensors} (names, dtypes, shapes, bytes)");
            }
            if (m.Seal is not null)
            {
                Console.WriteLine($"sealed     sha256:{m.Seal.ManifestDigest} after {m.Seal.Events} events");
            }

            return 0;
        }));
        return command;
    }

    /// <summary>One attempt's line after what it ran: agent, epoch, outcome, result, error.</summary>
    private static string Attempt(AttemptRecord a)
    {
        // A stopped attempt's error already reads "killed by WHO (...)": print it once, not after "killed by WHO".
        var stopped = a.StoppedBy is not null && a.Error is not null && a.Error.StartsWith($"{a.Outcome} by ", StringComparison.Ordinal);
        var outcome = stopped ? a.Error : a.Outcome + (a.StoppedBy is null ? "" : " by " + a.StoppedBy);
        return string.Create(CultureInfo.InvariantCulture, $" attempt {a.Attempt} on {a.AgentId} (epoch {a.LeaseEpoch}): {outcome}{(a.ResultDigest is null ? "" : " sha256:" + a.ResultDigest[..16])}{(a.Error is null || stopped ? "" : " - " + a.Error)}");
    }

    /// <summary>A task's attempts (the preparation, a round's evaluation), leased like shards and listed like them.</summary>
    private static void PrintTaskAttempts(IEnumerable<TaskRecord> tasks, string what)
    {
        foreach (var t in tasks)
        {
            foreach (var a in t.Attempts)
            {
                Console.WriteLine("  " + what + Attempt(a));
            }

            if (t.EndedAt is not null && t.Error is { } error)
            {
                Console.WriteLine($"  {what} gave up: {error}");
            }
        }
    }

    /// <summary>" (tensors sha256:…)" after a file digest, when the manifest records one.</summary>
    private static string Tensors(string? digest) => digest is null ? "" : $" (tensors sha256:{digest})";

    private static Command Verify()
    {
        var run = new Argument<string>("RUN") { Description = "Run id (or a unique prefix)" };
        var coordinator = FarmClient.CoordinatorOption();
        var json = FarmClient.JsonOption();
        var command = new Command("verify", "Recompute a run's hash-chained event log and seal; exit 1 and name each problem if anything was edited, inserted or deleted.") { run, coordinator, json };
        command.SetAction((parse, ct) => FarmClient.RunAsync(parse.GetRequiredValue(coordinator), async channel =>
        {
            var result = await new LineageService.LineageServiceClient(channel).VerifyAsync(new LineageRunRequest { RunId = parse.GetRequiredValue(run) }, cancellationToken: ct);
            if (parse.GetValue(json))
            {
                Console.WriteLine(JobText.ToJson(result));
            }
            else if (result.Ok)
            {
                Console.WriteLine($"{result.RunId}: intact ({result.Events} events{(result.ManifestDigest.Length > 0 ? ", sealed manifest sha256:" + result.ManifestDigest : ", not sealed yet")})");
            }
            else
            {
                Console.WriteLine($"{result.RunId}: TAMPERED ({result.Problems.Count} problem(s))");
                foreach (var p in result.Problems)
                {
                    Console.WriteLine("  - " + p);
                }
            }

            return result.Ok ? 0 : 1;
        }));
        return command;
    }

    private static Command Trace()
    {
        var digest = new Argument<string>("DIGEST") { Description = "sha256 of a model, weights, dataset or asset" };
        var up = new Option<bool>("--up") { Description = "Everything that went into it (data, licences, code, seeds)" };
        var down = new Option<bool>("--down") { Description = "Every run and model made from it" };
        var coordinator = FarmClient.CoordinatorOption();
        var json = FarmClient.JsonOption();
        var command = new Command("trace", "Trace a digest up (what went into this model) or down (what was made from this dataset or asset).") { digest, up, down, coordinator, json };
        command.SetAction((parse, ct) =>
        {
            if (parse.GetValue(up) == parse.GetValue(down))
            {
                Console.Error.WriteLine("error: give exactly one of --up (what went into it) or --down (what was made from it)");
                return Task.FromResult(2);
            }

            return FarmClient.RunAsync(parse.GetRequiredValue(coordinator), async channel =>
            {
                var doc = await new LineageService.LineageServiceClient(channel).TraceAsync(new TraceRequest
                {
                    Digest = parse.GetRequiredValue(digest),
                    Direction = parse.GetValue(up) ? TraceDirection.Up : TraceDirection.Down,
                }, cancellationToken: ct);
                if (parse.GetValue(json))
                {
                    Console.WriteLine(doc.Json);
                    return 0;
                }

                var node = JsonNode.Parse(doc.Json)!;
                if (parse.GetValue(up))
                {
                    var producers = node["producedBy"]!.AsArray();
                    Console.WriteLine(producers.Count == 0 ? "no run on record produced or consumed this digest" : $"{node["digest"]} came from:");
                    foreach (var p in producers)
                    {
                        Console.WriteLine($"  run {p!["runId"]} ({p["state"]}), as {p["role"]}; recipe {p["recipe"]}");
                        Console.WriteLine($"    dataset {p["dataset"]?["name"]} v{p["dataset"]?["version"]} sha256:{p["dataset"]?["digest"]}, licence {p["dataset"]?["licence"]}, owner {p["dataset"]?["owner"]}");
                        if (p["modelFile"] is { } modelFile)
                        {
                            Console.WriteLine($"    model file sha256:{modelFile["digest"]} ({modelFile["file"]}), licence {modelFile["licence"]}{(modelFile["origin"] is { } origin ? $", origin: {origin}" : "")}");
                        }

                        Console.WriteLine($"    initial weights sha256:{p["initialWeights"]}");
                    }
                }
                else
                {
                    var uses = node["usedBy"]!.AsArray();
                    Console.WriteLine(uses.Count == 0 ? "no run on record used this digest" : $"{node["digest"]} was used by:");
                    foreach (var u in uses)
                    {
                        Console.WriteLine($"  run {u!["runId"]} ({u["state"]}) as {u["usedAs"]} -> model {u["model"] ?? "(none yet)"}");
                    }
                }

                return 0;
            });
        });
        return command;
    }

    private static Command Impact()
    {
        var asset = new Option<string>("--asset") { Description = "sha256 of the withdrawn asset or of a model file whose licence was revoked, or the file itself (a source render, an image, a .pt): its sha256 is taken", Required = true };
        var coordinator = FarmClient.CoordinatorOption();
        var json = FarmClient.JsonOption();
        var command = new Command("impact", "Every model affected by withdrawing an asset (consent withdrawn, licence revoked), with the job spec to retrain it without that asset.") { asset, coordinator, json };
        command.SetAction((parse, ct) => FarmClient.RunAsync(parse.GetRequiredValue(coordinator), async channel =>
        {
            var doc = await new LineageService.LineageServiceClient(channel).ImpactAsync(new ImpactRequest { AssetDigest = AssetDigest(parse.GetRequiredValue(asset)) }, cancellationToken: ct);
            if (parse.GetValue(json))
            {
                Console.WriteLine(doc.Json);
                return 0;
            }

            var affected = JsonNode.Parse(doc.Json)!["affected"]!.AsArray();
            Console.WriteLine(affected.Count == 0 ? "no model on record was trained on this asset or model file" : $"{affected.Count} run(s) trained on this {(affected.All(a => a?["usedAs"]?.GetValue<string>() == "model file") ? "model file" : "asset")}:");
            foreach (var a in affected)
            {
                var modelFile = a!["usedAs"]?.GetValue<string>() == "model file";
                Console.WriteLine(modelFile
                    ? $"\n  run {a["runId"]} ({a["state"]}), model {a["model"] ?? "(none yet)"}, trained from model file {a["modelFile"]?["file"]} (licence {a["modelFile"]?["licence"]})"
                    : $"\n  run {a["runId"]} ({a["state"]}), model {a["model"] ?? "(none yet)"}, asset {a["assetPath"]}");
                var what = modelFile ? "retrain from another model file (change model.file)" : "retrain without it";
                Console.WriteLine(a["specFile"] is { } file ? $"  {what}: save this as {file}, then `{a["command"]}`" : $"  {what}:");
                foreach (var line in a["retrainSpec"]!.GetValue<string>().Split('\n', StringSplitOptions.RemoveEmptyEntries))
                {
                    Console.WriteLine("    " + line);
                }
            }

            return 0;
        }));
        return command;
    }

    /// <summary>A digest as given, or the sha256 of the file at that path: an asset's digest is its file's.</summary>
    private static string AssetDigest(string value) =>
        !Sha256Digest.IsValid(value) && File.Exists(value) ? Sha256Digest.OfFile(value) : value;

    private static Command Export()
    {
        var run = new Argument<string>("RUN") { Description = "Run id (or a unique prefix)" };
        var format = new Option<string>("--format") { Description = "in-toto: a Statement v1 with an SLSA provenance v1 predicate", DefaultValueFactory = _ => "in-toto" };
        format.AcceptOnlyFromAmong("in-toto");
        var output = new Option<FileInfo?>("--out", "-o") { Description = "Write to this file instead of standard output" };
        var coordinator = FarmClient.CoordinatorOption();
        var command = new Command("export", "Export a finished run's provenance (in-toto Statement v1, SLSA provenance v1: model as subject; data, weights, code as dependencies).") { run, format, output, coordinator };
        command.SetAction((parse, ct) => FarmClient.RunAsync(parse.GetRequiredValue(coordinator), async channel =>
        {
            var doc = await new LineageService.LineageServiceClient(channel).ExportAsync(new ExportRequest { RunId = parse.GetRequiredValue(run), Format = parse.GetRequiredValue(format) }, cancellationToken: ct);
            if (parse.GetValue(output) is { } file)
            {
                await File.WriteAllTextAsync(file.FullName, doc.Json, ct);
                Console.WriteLine($"wrote {file.FullName}");
            }
            else
            {
                Console.WriteLine(doc.Json);
            }

            return 0;
        }));
        return command;
    }

    private static Command Reindex()
    {
        var coordinator = FarmClient.CoordinatorOption();
        var command = new Command("reindex", "Rebuild the reverse lineage indexes from the stored manifests.") { coordinator };
        command.SetAction((parse, ct) => FarmClient.RunAsync(parse.GetRequiredValue(coordinator), async channel =>
        {
            var result = await new LineageService.LineageServiceClient(channel).ReindexAsync(new ReindexRequest(), cancellationToken: ct);
            Console.WriteLine($"reindexed {result.Runs} run(s): {result.Entries} index entries");
            return 0;
        }));
        return command;
    }
}
