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
