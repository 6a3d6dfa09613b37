using System.Text.Json.Nodes;
using Grpc.Core;
using RMTC.Farm.Core.Datasets;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Integration.Tests;

/// <summary>Lineage over a small graph of real runs: two of one job on dataset A, one on dataset B.</summary>
public sealed class LineageTests : IAsyncLifetime
{
    private FarmFixture _farm = null!;
    private LineageService.LineageServiceClient _lineage = null!;
    private string _dataA = "", _dataB = "";
    private Job _a1 = null!, _a2 = null!, _b1 = null!;

    public async Task InitializeAsync()
    {
        _farm = await FarmFixture.StartAsync();
        _lineage = new LineageService.LineageServiceClient(_farm.Channel);
        _dataA = _farm.Synthesize("classifier", 40);
        _dataB = _farm.Synthesize("classifier", 48, seed: 11);
        await _farm.StartAgentsAsync(2);
        // Two runs of the same job: their ids share the job name and any prefix shorter than the id.
        _a1 = await RunAsync(JobOnA, _dataA);
        _a2 = await RunAsync(JobOnA, _dataA);
        _b1 = await RunAsync("b1", _dataB);
    }

    private const string JobOnA = "classify-plates";

    private async Task<Job> RunAsync(string name, string data)
    {
        var job = await _farm.SubmitAsync($"name: {name}\nrecipe: classifier\ndataset: {data}\nshards: 2\nrounds: 1\n");
        var done = await _farm.WaitAsync(job.Id, TimeSpan.FromMinutes(2));
        Assert.True(done.State == JobState.Succeeded, done.ToString());
        return done;
    }

    [Fact]
    public async Task Show_takes_a_unique_run_id_prefix_and_refuses_an_ambiguous_or_unknown_one_by_name()
    {
        var shown = Core.Lineage.RunManifest.FromJson((await _lineage.ShowAsync(new LineageRunRequest { RunId = _b1.Id[..4] })).Json);
        Assert.Equal(_b1.Id, shown.RunId);

        // Both runs of the job share this prefix: neither is picked.
        var ambiguous = await Assert.ThrowsAsync<RpcException>(async () => await _lineage.ShowAsync(new LineageRunRequest { RunId = JobOnA }));
        Assert.Equal(StatusCode.NotFound, ambiguous.StatusCode);
        Assert.Contains($"no run '{JobOnA}'", ambiguous.Status.Detail);
        var unknown = await Assert.ThrowsAsync<RpcException>(async () => await _lineage.VerifyAsync(new LineageRunRequest { RunId = "nothing-like-it" }));
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("`rmtc status` lists runs", unknown.Status.Detail);
    }

    [Fact]
    public async Task Trace_down_from_a_dataset_or_an_asset_finds_every_run_and_model_made_from_it()
    {
        var down = Parse(await _lineage.TraceAsync(new TraceRequest { Digest = _a1.DatasetDigest, Direction = TraceDirection.Down }));
        Assert.Equal(new[] { _a1.Id, _a2.Id }.Order(), down["usedBy"]!.AsArray().Select(u => (string)u!["runId"]!).Order());
        Assert.Contains(down["usedBy"]!.AsArray(), u => (string?)u!["model"] == _a1.FinalModelDigest);

        var asset = Dataset.Open(_dataB).Samples[5].Sha256;
        var fromAsset = Parse(await _lineage.TraceAsync(new TraceRequest { Digest = "sha256:" + asset, Direction = TraceDirection.Down }));
        var use = Assert.Single(fromAsset["usedBy"]!.AsArray());
        Assert.Equal(_b1.Id, (string)use!["runId"]!);
        Assert.Equal("asset", (string)use["usedAs"]!);
    }

    [Fact]
    public async Task Trace_up_from_a_model_names_its_data_licence_code_and_seeds()
    {
        var up = Parse(await _lineage.TraceAsync(new TraceRequest { Digest = _b1.FinalModelDigest, Direction = TraceDirection.Up }));
        var producer = Assert.Single(up["producedBy"]!.AsArray())!;
        Assert.Equal(_b1.Id, (string)producer["runId"]!);
        Assert.Equal("model", (string)producer["role"]!);
        Assert.Equal(_b1.DatasetDigest, (string)producer["dataset"]!["digest"]!);
        Assert.Equal("CC0-1.0", (string)producer["dataset"]!["licence"]!);
        Assert.NotNull(producer["seeds"]);
        Assert.NotNull(producer["code"]);
    }

    [Fact]
    public async Task Impact_of_withdrawing_an_asset_lists_each_model_with_a_spec_that_excludes_it()
    {
        var asset = Dataset.Open(_dataA).Samples[3];
        var impact = Parse(await _lineage.ImpactAsync(new ImpactRequest { AssetDigest = asset.Sha256 }));
        var affected = impact["affected"]!.AsArray();
        Assert.Equal(new[] { _a1.Id, _a2.Id }.Order(), affected.Select(a => (string)a!["runId"]!).Order());
        foreach (var a in affected)
        {
            Assert.Equal(asset.RelativePath, (string)a!["assetPath"]!);
            var spec = (string)a["retrainSpec"]!;
            Assert.Contains("exclude_assets:", spec);
            Assert.Contains(asset.Sha256, spec);
            // The file to save it as names the whole run id: two runs of one job never share a file.
            Assert.Equal($"retrain-{(string)a["runId"]!}.yaml", (string)a["specFile"]!);
            Assert.Equal($"rmtc submit retrain-{(string)a["runId"]!}.yaml --wait", (string)a["command"]!);
        }

        Assert.Equal(2, affected.Select(a => (string)a!["specFile"]!).Distinct().Count());

        // The CLI names each run's file and command too.
        var (code, output) = await RmtcCli.RunAsync(TimeSpan.FromMinutes(2), "lineage", "impact", "--asset", asset.Sha256, "--coordinator", _farm.Address);
        Assert.True(code == 0, output);
        foreach (var id in new[] { _a1.Id, _a2.Id })
        {
            Assert.Contains($"save this as retrain-{id}.yaml, then `rmtc submit retrain-{id}.yaml --wait`", output);
        }
    }

    [Fact]
    public async Task The_retrain_spec_from_impact_trains_without_the_withdrawn_asset()
    {
        var asset = Dataset.Open(_dataB).Samples[7].Sha256;
        var impact = Parse(await _lineage.ImpactAsync(new ImpactRequest { AssetDigest = asset }));
        var spec = (string)Assert.Single(impact["affected"]!.AsArray())!["retrainSpec"]!;

        var retrain = await _farm.SubmitAsync(spec);
        var done = await _farm.WaitAsync(retrain.Id, TimeSpan.FromMinutes(2));
        Assert.Equal(JobState.Succeeded, done.State);

        var manifest = _farm.Scheduler.GetManifest(retrain.Id)!;
        Assert.Equal(47, manifest.Dataset.Samples);
        Assert.Equal(47, manifest.Rounds[0].Shards.Sum(s => s.Samples));
        Assert.Contains(asset, manifest.Spec!.ExcludeAssets);

        // The withdrawn asset leads to the old run only; the new model is free of it.
        var down = Parse(await _lineage.TraceAsync(new TraceRequest { Digest = asset, Direction = TraceDirection.Down }));
        Assert.Equal([_b1.Id], down["usedBy"]!.AsArray().Select(u => (string)u!["runId"]!));
    }

    [Fact]
    public async Task Verify_catches_an_edited_a_deleted_and_an_inserted_event_and_an_edited_manifest()
    {
        Assert.True((await _lineage.VerifyAsync(new LineageRunRequest { RunId = _a1.Id })).Ok);
        var dir = Path.Combine(_farm.Root, "farm", "runs", _a1.Id);
        var eventsPath = Path.Combine(dir, "events.jsonl");
        var original = await File.ReadAllLinesAsync(eventsPath);

        // Edited: one fact in the third entry.
        var edited = original.ToArray();
        edited[2] = System.Text.RegularExpressions.Regex.Replace(edited[2], "\"round\":[0-9]+", "\"round\":7");
        Assert.NotEqual(original[2], edited[2]);
        await AssertTamperedAsync(eventsPath, edited, "edited");

        // Deleted: the fourth entry.
        await AssertTamperedAsync(eventsPath, original.Where((_, i) => i != 3).ToArray(), "inserted or deleted");

        // Inserted: a copy of an entry.
        await AssertTamperedAsync(eventsPath, original.Take(2).Append(original[1]).Concat(original.Skip(2)).ToArray(), "inserted or deleted");

        await File.WriteAllLinesAsync(eventsPath, original);
        Assert.True((await _lineage.VerifyAsync(new LineageRunRequest { RunId = _a1.Id })).Ok);

        // Edited manifest: someone "fixes" the licence.
        var manifestPath = Path.Combine(dir, "run.json");
        var manifest = await File.ReadAllTextAsync(manifestPath);
        await File.WriteAllTextAsync(manifestPath, manifest.Replace("CC0-1.0", "MIT", StringComparison.Ordinal));
        var result = await _lineage.VerifyAsync(new LineageRunRequest { RunId = _a1.Id });
        Assert.False(result.Ok);
        Assert.Contains(result.Problems, p => p.Contains("manifest was edited"));
        await File.WriteAllTextAsync(manifestPath, manifest);
    }

    private async Task AssertTamperedAsync(string path, string[] lines, string expected)
    {
        await File.WriteAllLinesAsync(path, lines);
        var result = await _lineage.VerifyAsync(new LineageRunRequest { RunId = _a1.Id });
        Assert.False(result.Ok);
        Assert.Contains(result.Problems, p => p.Contains(expected));
    }

    [Fact]
    public async Task Export_is_an_in_toto_statement_with_slsa_provenance_of_the_model()
    {
        var statement = Parse(await _lineage.ExportAsync(new ExportRequest { RunId = _a2.Id, Format = "in-toto" }));
        Assert.Equal("https://in-toto.io/Statement/v1", (string)statement["_type"]!);
        Assert.Equal("https://slsa.dev/provenance/v1", (string)statement["predicateType"]!);
        Assert.Equal(_a2.FinalModelDigest, (string)statement["subject"]![0]!["digest"]!["sha256"]!);
        var deps = statement["predicate"]!["buildDefinition"]!["resolvedDependencies"]!.AsArray();
        Assert.Contains(deps, d => (string?)d!["digest"]?["sha256"] == _a2.DatasetDigest);
    }

    [Fact]
    public async Task Reindex_rebuilds_the_reverse_indexes_from_the_manifests()
    {
        Directory.Delete(Path.Combine(_farm.Root, "farm", "index"), recursive: true);
        var empty = Parse(await _lineage.TraceAsync(new TraceRequest { Digest = _a1.DatasetDigest, Direction = TraceDirection.Down }));
        Assert.Empty(empty["usedBy"]!.AsArray());

        var result = await _lineage.ReindexAsync(new ReindexRequest());
        Assert.Equal(3u, result.Runs);
        var down = Parse(await _lineage.TraceAsync(new TraceRequest { Digest = _a1.DatasetDigest, Direction = TraceDirection.Down }));
        Assert.Equal(2, down["usedBy"]!.AsArray().Count);
    }

    [Fact]
    public async Task A_digest_that_is_not_one_is_refused_clearly()
    {
        var error = await Assert.ThrowsAsync<RpcException>(async () => await _lineage.TraceAsync(new TraceRequest { Digest = "abc", Direction = TraceDirection.Up }));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("not a sha256 digest", error.Status.Detail);
    }

    private static JsonNode Parse(LineageDocument doc) => JsonNode.Parse(doc.Json)!;

    public async Task DisposeAsync() => await _farm.DisposeAsync();
}
