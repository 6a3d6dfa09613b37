using System.Text;
using Microsoft.Extensions.Options;
using RMTC.Farm.Coordinator.Hosting;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Integration.Tests.Stores;

/// <summary>The embedded store against the contract, plus what only files can suffer: torn and damaged lines.</summary>
public sealed class FileRunStoreTests : RunStoreContract
{
    private readonly string _root = Directory.CreateTempSubdirectory("rmtc-store-").FullName;

    protected override Task<IRunStore> OpenAsync() =>
        Task.FromResult<IRunStore>(new FileRunStore(Options.Create(new CoordinatorOptions { DataDirectory = _root })));

    public override Task DisposeAsync()
    {
        Directory.Delete(_root, recursive: true);
        return Task.CompletedTask;
    }

    private string EventsPath(string runId) => Path.Combine(_root, "runs", runId, "events.jsonl");

    [Fact]
    public async Task The_version_is_kept_next_to_the_manifest()
    {
        await Store.SaveAsync(Manifest(Id("v")), 638_000_000_000_000_001);
        Assert.Equal("{\"version\":638000000000000001}", await File.ReadAllTextAsync(Path.Combine(_root, "runs", Id("v"), "version")));
        Assert.Equal(Id("v"), RunManifest.FromJson(await File.ReadAllTextAsync(Path.Combine(_root, "runs", Id("v"), "run.json"))).RunId);
    }

    [Fact]
    public async Task A_manifest_stored_whole_by_an_older_coordinator_loads_and_its_first_write_in_parts_replaces_it()
    {
        var id = Id("old");
        var dir = Path.Combine(_root, "runs", id);
        Directory.CreateDirectory(dir);
        var manifest = Manifest(id);
        // What a coordinator before parts (and before 64-bit integers as strings) left: run.json and its version.
        var old = manifest.ToJson().Replace($"\"{long.MaxValue}\"", $"{long.MaxValue}", StringComparison.Ordinal);
        Assert.NotEqual(manifest.ToJson(), old);
        await File.WriteAllTextAsync(Path.Combine(dir, "run.json"), old);
        await File.WriteAllTextAsync(Path.Combine(dir, "version"), "{\"version\":5}");
        Assert.Equal(manifest.ToJson(), (await Store.GetAsync(id))?.ToJson());

        // A restarted coordinator continues the run: its first write holds every part and takes the document's place.
        manifest.Rounds[0].Attempts.Add(Running(0, 2, "a2"));
        await WriteAsync(Store, new Coordinator.Runs.ManifestTracker(), manifest, 6);
        Assert.Equal(manifest.ToJson(), (await Store.GetAsync(id))?.ToJson());
        Assert.False(File.Exists(Path.Combine(dir, "run.json")));
        Assert.True(File.Exists(Path.Combine(dir, "run.parts.jsonl")));
    }

    [Fact]
    public async Task A_torn_last_write_of_parts_is_ignored_and_a_long_log_is_compacted()
    {
        var id = Id("torn-parts");
        var path = Path.Combine(_root, "runs", id, "run.parts.jsonl");
        var manifest = Manifest(id);
        var tracker = new Coordinator.Runs.ManifestTracker();
        await WriteAsync(Store, tracker, manifest, 1);
        var expected = manifest.ToJson();
        // A crash mid-append: half of the next write's line.
        manifest.Rounds[0].Attempts.Add(Running(0, 2, "a2"));
        var line = System.Text.Encoding.UTF8.GetString(ManifestPartsLog.Line(tracker.Capture(manifest, 2, whole: false, expect: false).ToParts()));
        await File.AppendAllTextAsync(path, line[..(line.Length / 2)]);
        Assert.Equal(expected, (await Store.GetAsync(id))?.ToJson());

        // The write was never acknowledged: the restarted journal writes it again, onto a clean end of the log.
        var reopened = await OpenAsync();
        tracker.Landed(new Coordinator.Runs.ManifestCapture(2, null), ManifestWriteResult.NotWritten);
        await WriteAsync(reopened, tracker, manifest, 2);
        Assert.Equal(manifest.ToJson(), (await reopened.GetAsync(id))?.ToJson());

        // Each write appends what changed; the log is rewritten as one line when it outgrows twice its compacted size.
        for (var i = 3; i < 200; i++)
        {
            var attempt = Running(0, i, "a" + i);
            attempt.Error = new string('e', 4000);
            manifest.Rounds[0].Attempts.Add(attempt);
            await WriteAsync(reopened, tracker, manifest, i);
        }

        Assert.InRange((await File.ReadAllLinesAsync(path)).Length, 1, 150);
        Assert.Equal(manifest.ToJson(), (await Store.GetAsync(id))?.ToJson());
    }

    [Fact]
    public async Task A_torn_last_line_is_ignored_and_the_next_append_starts_clean()
    {
        var id = Id("torn");
        var chain = Chain(4);
        await Store.AppendEventsAsync(id, chain[..2]);
        // A crash mid-append: half of the third event, no newline.
        var half = chain[2].ToJson()[..40];
        await File.AppendAllTextAsync(EventsPath(id), half);

        Assert.Equal(2, (await Store.ReadEventsAsync(id)).Count);

        // The coordinator writes the event again after recovery: the torn bytes must not corrupt it.
        await Store.AppendEventsAsync(id, chain[2..]);
        var read = await Store.ReadEventsAsync(id);
        Assert.Equal(chain.Select(e => e.Hash), read.Select(e => e.Hash));
        Assert.Empty(ChainVerifier.Verify(read));
        Assert.DoesNotContain(half + "{", await File.ReadAllTextAsync(EventsPath(id)));
    }

    [Fact]
    public async Task A_damaged_line_inside_the_log_is_an_error_not_a_silent_gap()
    {
        var id = Id("damaged");
        await Store.AppendEventsAsync(id, Chain(3));
        var lines = await File.ReadAllLinesAsync(EventsPath(id));
        lines[1] = lines[1][..20];
        await File.WriteAllTextAsync(EventsPath(id), string.Join("\n", lines) + "\n");

        var e = await Assert.ThrowsAsync<InvalidDataException>(() => Store.ReadEventsAsync(id));
        Assert.Contains("line 2", e.Message);
    }

    [Fact]
    public async Task A_torn_index_line_is_ignored_and_its_id_indexed_again()
    {
        var digest = Digest(Id("idx"));
        await Store.IndexAsync([new(LineageIndexKinds.Asset, digest, Id("a"))]);
        var path = Path.Combine(_root, "index", LineageIndexKinds.Asset, digest);
        await File.AppendAllTextAsync(path, Id("b")[..5], Encoding.UTF8);

        Assert.Equal([Id("a")], await Store.LookupAsync(LineageIndexKinds.Asset, digest));
        await Store.IndexAsync([new(LineageIndexKinds.Asset, digest, Id("b"))]);
        Assert.Equal([Id("a"), Id("b")], await Store.LookupAsync(LineageIndexKinds.Asset, digest));
    }
}
