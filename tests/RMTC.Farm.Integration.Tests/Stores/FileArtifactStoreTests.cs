using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using RMTC.Farm.Coordinator.Hosting;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Digests;
using RMTC.Farm.Core.Weights;
using RMTC.Farm.Integration.Tests.Fixtures;

namespace RMTC.Farm.Integration.Tests.Stores;

/// <summary>
/// The artifact store on real files: what a commit verifies, that nothing half-written or refused is ever visible,
/// concurrent puts of one content, reads by digest, and the on-disk layout existing farms hold.
/// </summary>
public sealed class FileArtifactStoreTests : IDisposable
{
    private static readonly string Missing = new('e', 64);
    private readonly string _dataDir = Directory.CreateTempSubdirectory("rmtc-artifacts-").FullName;
    private readonly FileArtifactStore _store;

    public FileArtifactStoreTests() => _store = Open();

    public void Dispose() => Directory.Delete(_dataDir, recursive: true);

    private FileArtifactStore Open() => new(Options.Create(new CoordinatorOptions { DataDirectory = _dataDir }));

    private string StoreDir => StoredArtifacts.FileStoreDirectory(_dataDir);

    private string TempDir => Path.Combine(_dataDir, "artifacts", "tmp");

    private static byte[] Payload(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private void AssertNothingVisibleBut(params string[] files)
    {
        Assert.Equal(files.Order(StringComparer.Ordinal), Directory.GetFiles(StoreDir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Empty(Directory.GetFiles(TempDir));
    }

    [Fact]
    public async Task A_put_is_read_back_by_digest_under_the_layout_farms_already_hold()
    {
        var bytes = Payload(300_000, 1);
        var digest = Sha256Digest.OfBytes(bytes);

        var stored = await _store.PutAsync(new MemoryStream(bytes), ArtifactKind.Weights);

        Assert.Equal(new StoredArtifact(digest, bytes.Length), stored);
        Assert.True(_store.Exists(digest));
        Assert.Equal(bytes.Length, _store.SizeOf(digest));
        Assert.Equal(bytes, _store.ReadAllBytes(digest));
        // The layout is a contract with farms on disk: <data dir>/artifacts/sha256/<hex>.safetensors, nothing left in tmp/.
        Assert.Equal(bytes, await File.ReadAllBytesAsync(Path.Combine(_dataDir, "artifacts", "sha256", digest + ".safetensors")));
        AssertNothingVisibleBut(digest + ".safetensors");
    }

    [Fact]
    public void The_read_stream_is_seekable_and_starts_at_the_beginning()
    {
        var bytes = Payload(10_000, 2);
        var digest = _store.Put(bytes, ArtifactKind.Weights).Digest;

        using var stream = _store.OpenRead(digest);
        Assert.True(stream.CanRead && stream.CanSeek);
        Assert.Equal(0, stream.Position);
        Assert.Equal(bytes.Length, stream.Length);
        stream.Position = 9_990;
        var tail = new byte[10];
        stream.ReadExactly(tail);
        Assert.Equal(bytes[9_990..], tail);
    }

    [Fact]
    public void Files_an_existing_farm_wrote_are_read_by_digest()
    {
        // A farm written before the interface existed: files placed by name alone must be found.
        var weights = Payload(1000, 3);
        var json = "[\"a\"]"u8.ToArray();
        var onnx = Payload(500, 4);
        File.WriteAllBytes(Path.Combine(StoreDir, Sha256Digest.OfBytes(weights) + ".safetensors"), weights);
        File.WriteAllBytes(Path.Combine(StoreDir, Sha256Digest.OfBytes(json) + ".json"), json);
        File.WriteAllBytes(Path.Combine(StoreDir, Sha256Digest.OfBytes(onnx) + ".onnx"), onnx);
        var reopened = Open();

        Assert.Equal(weights, reopened.ReadAllBytes(Sha256Digest.OfBytes(weights)));
        Assert.Equal("[\"a\"]", reopened.ReadJson(Sha256Digest.OfBytes(json)));
        Assert.Equal(onnx, reopened.ReadAllBytes(Sha256Digest.OfBytes(onnx), ArtifactKind.Onnx));
    }

    [Fact]
    public void Kinds_are_named_apart_even_for_the_same_bytes()
    {
        var digest = _store.PutJson("{\"plan\":[]}");

        Assert.True(_store.Exists(digest, ArtifactKind.Json));
        Assert.False(_store.Exists(digest, ArtifactKind.Weights));
        Assert.False(_store.Exists(digest, ArtifactKind.Onnx));
        Assert.Equal("{\"plan\":[]}", _store.ReadJson(digest));
        Assert.Null(_store.ReadJson(Missing));
        AssertNothingVisibleBut(digest + ".json");
    }

    [Fact]
    public void Weights_are_stored_with_the_digest_of_their_safetensors_bytes()
    {
        // The same digest Safetensors.WriteFile gives: runs recorded before the interface keep naming the same files.
        var tensors = new[] { NamedTensor.FromFloats("w", [2, 3], [1, 2, 3, 4, 5, 6]), NamedTensor.FromFloats("b", [3], [0.5f, -1, 2]) };
        var metadata = new Dictionary<string, string> { ["rmtc.kind"] = "initial" };
        var reference = Path.Combine(_dataDir, "reference.safetensors");
        var expected = Safetensors.WriteFile(reference, tensors, metadata);

        var stored = _store.PutWeights(tensors, metadata);

        Assert.Equal(new StoredArtifact(expected, new FileInfo(reference).Length), stored);
        Assert.Equal(["b", "w"], _store.ReadWeights(expected).Tensors.Select(t => t.Name).Order(StringComparer.Ordinal));
        Assert.Equal(2, _store.ReadWeightsHeader(expected).Tensors.Count);
    }

    [Fact]
    public async Task A_commit_verifies_the_expected_digest_and_length_and_a_mismatch_stores_nothing()
    {
        var bytes = Payload(70_000, 5);
        var digest = Sha256Digest.OfBytes(bytes);

        await using (var wrongDigest = _store.BeginPut())
        {
            await wrongDigest.Stream.WriteAsync(bytes);
            var e = await Assert.ThrowsAsync<ArtifactMismatchException>(() => wrongDigest.CommitAsync(Missing, bytes.Length));
            Assert.Equal(digest, e.ActualDigest);
            Assert.Equal(bytes.Length, e.ActualLength);
            Assert.Contains($"sha256 {Missing}", e.Message);
            Assert.Contains($"hashing to {digest}", e.Message);
        }

        AssertNothingVisibleBut();

        await using (var wrongLength = _store.BeginPut())
        {
            await wrongLength.Stream.WriteAsync(bytes);
            // The right digest but a header that claims another size is refused as well.
            var e = await Assert.ThrowsAsync<ArtifactMismatchException>(() => wrongLength.CommitAsync(digest, bytes.Length + 1));
            Assert.Contains($"expected {bytes.Length + 1} bytes", e.Message);
        }

        AssertNothingVisibleBut();
        Assert.False(_store.Exists(digest));

        await using (var right = _store.BeginPut())
        {
            await right.Stream.WriteAsync(bytes);
            Assert.Equal(bytes.Length, right.Length);
            Assert.Equal(new StoredArtifact(digest, bytes.Length), await right.CommitAsync(digest, bytes.Length));
            Assert.Throws<ObjectDisposedException>(() => right.Commit());
        }

        Assert.Equal(bytes, _store.ReadAllBytes(digest));
        AssertNothingVisibleBut(digest + ".safetensors");
    }

    [Fact]
    public async Task A_put_of_content_already_stored_is_only_verified_and_wrong_bytes_are_still_refused()
    {
        var bytes = Payload(90_000, 8);
        var digest = Sha256Digest.OfBytes(bytes);
        await _store.PutAsync(new MemoryStream(bytes), ArtifactKind.Weights);
        var before = File.GetLastWriteTimeUtc(Path.Combine(StoreDir, digest + ".safetensors"));

        await using (var again = _store.BeginPut(ArtifactKind.Weights, digest))
        {
            await again.Stream.WriteAsync(bytes);
            // Nothing is written while the bytes arrive: no temp file, the stored copy is the outcome.
            Assert.Empty(Directory.GetFiles(TempDir));
            Assert.Equal(new StoredArtifact(digest, bytes.Length), await again.CommitAsync(digest, bytes.Length));
        }

        var tampered = bytes.ToArray();
        tampered[^1] ^= 0xff;
        await using (var wrong = _store.BeginPut(ArtifactKind.Weights, digest))
        {
            await wrong.Stream.WriteAsync(tampered);
            var e = await Assert.ThrowsAsync<ArtifactMismatchException>(() => wrong.CommitAsync(digest, bytes.Length));
            Assert.Equal(Sha256Digest.OfBytes(tampered), e.ActualDigest);
        }

        await using (var shorter = _store.BeginPut(ArtifactKind.Weights, digest))
        {
            await shorter.Stream.WriteAsync(bytes.AsMemory(0, 1000));
            await Assert.ThrowsAsync<ArtifactMismatchException>(() => shorter.CommitAsync(digest, bytes.Length));
        }

        Assert.Equal(bytes, _store.ReadAllBytes(digest));
        Assert.Equal(before, File.GetLastWriteTimeUtc(Path.Combine(StoreDir, digest + ".safetensors")));
        AssertNothingVisibleBut(digest + ".safetensors");
    }

    [Fact]
    public async Task An_uncommitted_or_failed_write_leaves_nothing_behind()
    {
        var bytes = Payload(50_000, 6);
        await using (var abandoned = _store.BeginPut())
        {
            await abandoned.Stream.WriteAsync(bytes.AsMemory(0, 20_000));
            // Mid-write the bytes exist only in tmp/, under no digest.
            Assert.Single(Directory.GetFiles(TempDir));
            Assert.Empty(Directory.GetFiles(StoreDir));
        }

        AssertNothingVisibleBut();

        var failure = await Assert.ThrowsAsync<InvalidOperationException>(async () =>
        {
            using var put = _store.BeginPut();
            put.Stream.Write(bytes);
            throw new InvalidOperationException("the upload broke off");
        });
        Assert.Equal("the upload broke off", failure.Message);
        AssertNothingVisibleBut();
        Assert.False(_store.Exists(Sha256Digest.OfBytes(bytes)));
    }

    [Fact]
    public async Task Concurrent_puts_of_the_same_content_all_succeed_and_keep_one_copy()
    {
        var bytes = Payload(2 * 1024 * 1024, 7);
        var digest = Sha256Digest.OfBytes(bytes);
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var puts = Enumerable.Range(0, 12).Select(i => Task.Run(async () =>
        {
            await using var put = _store.BeginPut();
            await start.Task;
            // Different chunkings of one content: the digest depends on the bytes only.
            var chunk = 4096 * (i + 1);
            for (var at = 0; at < bytes.Length; at += chunk)
            {
                await put.Stream.WriteAsync(bytes.AsMemory(at, Math.Min(chunk, bytes.Length - at)));
            }

            return await put.CommitAsync(digest, bytes.Length);
        })).ToList();
        start.SetResult();
        var stored = await Task.WhenAll(puts);

        Assert.All(stored, s => Assert.Equal(new StoredArtifact(digest, bytes.Length), s));
        Assert.Equal(bytes, _store.ReadAllBytes(digest));
        AssertNothingVisibleBut(digest + ".safetensors");
    }

    [Fact]
    public void A_reader_keeps_its_bytes_while_the_same_content_is_put_again()
    {
        var bytes = Payload(100_000, 8);
        var digest = _store.Put(bytes, ArtifactKind.Weights).Digest;
        using var reader = _store.OpenRead(digest);

        Assert.Equal(digest, _store.Put(bytes, ArtifactKind.Weights).Digest);

        var read = new byte[bytes.Length];
        reader.ReadExactly(read);
        Assert.Equal(bytes, read);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789")]
    [InlineData("sha256:abcdef0123456789abcdef0123456789abcdef0123456789abcdef01234567")]
    [InlineData("../../../../etc/passwd")]
    [InlineData("")]
    public void A_malformed_digest_is_refused_naming_the_digest_and_the_form_expected(string digest)
    {
        Assert.False(_store.Exists(digest));
        foreach (var call in new Action[] { () => _store.OpenRead(digest), () => _store.SizeOf(digest), () => _store.ReadJson(digest) })
        {
            var e = Assert.Throws<ArgumentException>(call);
            Assert.Contains($"'{digest}' is not a sha256 digest (64 lowercase hex characters", e.Message);
        }
    }

    [Fact]
    public void A_missing_artifact_is_reported_with_its_digest_kind_and_store()
    {
        var open = Assert.Throws<ArtifactNotFoundException>(() => _store.OpenRead(Missing));
        Assert.Equal($"no weights artifact sha256:{Missing} in the artifact store ({StoreDir})", open.Message);
        Assert.Equal(Missing, open.Digest);
        var size = Assert.Throws<ArtifactNotFoundException>(() => _store.SizeOf(Missing, ArtifactKind.Onnx));
        Assert.Contains("no onnx artifact", size.Message);
        Assert.False(_store.Exists(Missing));
    }

    [Fact]
    public void The_coordinator_registers_the_file_store_as_the_artifact_store()
    {
        var services = new ServiceCollection();
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Coordinator:DataDirectory"] = _dataDir })
            .Build();
        services.AddRmtcCoordinator(configuration);

        var descriptor = Assert.Single(services, s => s.ServiceType == typeof(IArtifactStore));
        Assert.Equal(typeof(FileArtifactStore), descriptor.ImplementationType);
        Assert.Equal(ServiceLifetime.Singleton, descriptor.Lifetime);
    }

    [Fact]
    public void A_put_stream_is_write_only_and_forward_only()
    {
        using var put = _store.BeginPut();
        Assert.True(put.Stream.CanWrite);
        Assert.False(put.Stream.CanRead);
        Assert.False(put.Stream.CanSeek);
        Assert.Throws<NotSupportedException>(() => put.Stream.Position = 0);
        put.Stream.Write(Encoding.ASCII.GetBytes("abc"));
        Assert.Equal(3, put.Length);
    }
}
