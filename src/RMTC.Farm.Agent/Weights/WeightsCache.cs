using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RMTC.Farm.Agent.Hosting;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Agent.Weights;

/// <summary>
/// Global weights (and runs' TorchScript model files, checkpoints) cached on the node by digest: each version crosses the
/// network once per node. A fetch cut midway keeps what arrived (<c>DIGEST.safetensors.part</c>) and goes on from there,
/// with the same source or the next one, and the whole file must hash to its digest before it is used.
/// </summary>
public sealed partial class WeightsCache
{
    /// <summary>Tries of one source, each resuming where the last stopped, before the next source is asked.</summary>
    public const int TriesPerSource = 3;

    private readonly string _root;
    private readonly ConcurrentDictionary<string, Lazy<Task<string>>> _inflight = new();
    private readonly ConcurrentDictionary<string, InFlightFetch> _relays = new();
    private readonly TimeProvider _time;
    private readonly ILogger<WeightsCache> _log;
    private readonly TransferCounters? _counters;

    /// <summary>A cache under the agent's work directory; <paramref name="counters"/> (optional) counts bytes by source.</summary>
    public WeightsCache(IOptions<AgentOptions> options, TimeProvider time, ILogger<WeightsCache> log, TransferCounters? counters = null)
    {
        _counters = counters;
        _root = Path.Combine(Path.GetFullPath(options.Value.WorkDirectory), "cache", "sha256");
        _time = time;
        _log = log;
        Directory.CreateDirectory(_root);
    }

    /// <summary>
    /// Path of the cached file with this digest, fetching it first when missing from <paramref name="sources"/>, in their
    /// order (the first that completes the file wins). Concurrent callers share one fetch. <paramref name="type"/> says
    /// whether the digest names weights or a model file (they are kept under different names).
    /// </summary>
    /// <exception cref="ArtifactMissingException">A source answered that the artifact does not exist.</exception>
    /// <exception cref="IOException">Every source failed; the message names each one's last error.</exception>
    /// <exception cref="InvalidDataException">The bytes do not hash to <paramref name="digest"/>.</exception>
    public async Task<string> GetAsync(IReadOnlyList<IArtifactSource> sources, string digest, CancellationToken ct, ArtifactType type = ArtifactType.Weights)
    {
        var path = PathOf(digest, type);
        if (File.Exists(path))
        {
            return path;
        }

        var fetch = _inflight.GetOrAdd(path, _ => new Lazy<Task<string>>(() => FetchAsync(sources, digest, type, path, ct)));
        try
        {
            return await fetch.Value;
        }
        finally
        {
            _inflight.TryRemove(new KeyValuePair<string, Lazy<Task<string>>>(path, fetch));
        }
    }

    /// <summary>
    /// Path of the cached, digest-checked file with this digest, or null when this node does not hold it (a fetch still
    /// under way is not held: its bytes are in a <c>.part</c> file until they hash to the digest). What peers are served.
    /// </summary>
    public string? Held(string digest, ArtifactType type = ArtifactType.Weights)
    {
        var path = PathOf(digest, type);
        return File.Exists(path) ? path : null;
    }

    /// <summary>The fetch of this digest under way on this node (its bytes unverified so far), or null when none is.</summary>
    public InFlightFetch? Fetching(string digest, ArtifactType type = ArtifactType.Weights) =>
        _relays.TryGetValue(PathOf(digest, type), out var relay) ? relay : null;

    private string PathOf(string digest, ArtifactType type) => Path.Combine(_root, digest + (type == ArtifactType.Torchscript ? ".pt" : ".safetensors"));

    private async Task<string> FetchAsync(IReadOnlyList<IArtifactSource> sources, string digest, ArtifactType type, string path, CancellationToken ct)
    {
        var what = type == ArtifactType.Torchscript ? "model file" : "weights";
        var (part, file) = OpenPart(path);
        var verified = false;
        var corrupt = false;
        InFlightFetch? relay = null;
        try
        {
            await using (file)
            {
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                // What an earlier, cut fetch left (even one of a previous agent process) is kept: hash it, ask for the rest.
                await HashExistingAsync(file, hash, ct);
                var kept = file.Length;
                // Peers may relay the bytes as they arrive (they check the digest themselves); not a one-off partial file.
                relay = part == path + ".part" ? new InFlightFetch(file.SafeFileHandle, kept) : null;
                if (relay is not null)
                {
                    _relays[path] = relay;
                }

                await using var sink = new HashingFileSink(file, hash, relay);
                var (source, actual) = await CopyFromSourcesAsync(sources, digest, type, sink, kept, ct);
                await file.FlushAsync(ct);
                if (source is null)
                {
                    corrupt = true;
                    throw new InvalidDataException($"{what} {digest} arrived corrupt (hash {actual}); will fetch again");
                }

                if (kept > 0 && file.Length > 0)
                {
                    LogResumed(digest, kept, file.Length);
                }

                LogFetched(what, digest, file.Length, source.Name);
                verified = true;
            }

            File.Move(part, path, overwrite: true);
            relay?.Finished(path);
            return path;
        }
        finally
        {
            if (relay is not null)
            {
                _relays.TryRemove(new KeyValuePair<string, InFlightFetch>(path, relay));
                relay.Finished(null);
            }

            // A cut fetch keeps its bytes for the next try; bytes known bad, or a one-off name nobody resumes, go.
            if (!verified && File.Exists(part) && (corrupt || part != path + ".part" || new FileInfo(part).Length == 0))
            {
                File.Delete(part);
            }
        }
    }

    /// <summary>
    /// Asks each source in turn, each up to its <see cref="IArtifactSource.Tries"/>, every try going on from the bytes
    /// kept. When a source has sent the whole artifact its digest is checked: a match returns that source; bytes of
    /// another digest are thrown away (a peer serving the wrong bytes, a corrupt partial file) and the next source starts
    /// from byte 0. Returns a null source, and the last digest seen, when the last source's bytes were wrong too.
    /// </summary>
    private async Task<(IArtifactSource? Source, string Actual)> CopyFromSourcesAsync(IReadOnlyList<IArtifactSource> sources, string digest, ArtifactType type, HashingFileSink sink, long kept, CancellationToken ct)
    {
        var failures = new List<string>();
        var wrong = "";
        var lastWasWrong = false;
        foreach (var source in sources)
        {
            var tries = Math.Max(1, source.Tries);
            var before = sink.Position;
            var completed = false;
            for (var attempt = 1; attempt <= tries; attempt++)
            {
                var offset = sink.Position;
                try
                {
                    await source.CopyToAsync(digest, type, offset, sink, ct);
                    completed = true;
                    break;
                }
                catch (ArtifactMissingException) when (!source.IsPeer)
                {
                    throw;
                }
                catch (Exception e) when (!ct.IsCancellationRequested && e is not InvalidDataException)
                {
                    if (source.IsPeer)
                    {
                        // A peer is a shortcut, never the only way: one failure and the coordinator is asked. What it sent
                        // may be a relay of bytes its own fetch then threw away: the coordinator starts afresh.
                        _counters?.PeerRefused();
                        LogPeerRefused(digest, source.Name, e.Message);
                        failures.Add($"{source.Name}: {e.Message}");
                        _counters?.Fetched(true, sink.Position - before);
                        if (sink.Position > 0)
                        {
                            sink.Discard();
                        }

                        before = 0;
                        kept = 0;
                        break;
                    }

                    LogTransferCut(digest, source.Name, offset, sink.Position, attempt, e.Message);
                    if (attempt == tries)
                    {
                        failures.Add($"{source.Name}: {e.Message}");
                        break;
                    }

                    // Progress made: go on at once; none: give the source a moment (a restart, a busy link).
                    if (sink.Position == offset)
                    {
                        await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt), _time, ct);
                    }
                }
            }

            _counters?.Fetched(source.IsPeer, sink.Position - before);
            lastWasWrong = false;
            if (!completed)
            {
                continue;
            }

            var actual = sink.CurrentDigest();
            if (actual == digest)
            {
                return (source, actual);
            }

            // Nothing unverified is kept: not this source's bytes, nor a partial file they were appended to.
            wrong = actual;
            lastWasWrong = true;
            if (source.IsPeer)
            {
                _counters?.PeerRefused();
            }

            LogWrongDigest(digest, source.Name, actual, sink.Position, kept);
            failures.Add($"{source.Name}: sent bytes of sha256 {actual}");
            sink.Discard();
            kept = 0;
        }

        if (lastWasWrong)
        {
            return (null, wrong);
        }

        throw new IOException($"could not fetch {digest} ({sink.Position} bytes kept for the next try): {string.Join("; ", failures)}");
    }

    /// <summary>The partial file of a fetch: the fixed name (resumable), or a fresh one when another process holds it.</summary>
    private static (string Part, FileStream File) OpenPart(string path)
    {
        var part = path + ".part";
        try
        {
            return (part, new FileStream(part, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.Asynchronous));
        }
        catch (IOException)
        {
            part = path + "." + Guid.NewGuid().ToString("N") + ".part";
            return (part, new FileStream(part, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.Asynchronous));
        }
    }

    private static async Task HashExistingAsync(FileStream file, IncrementalHash hash, CancellationToken ct)
    {
        var buffer = new byte[1 << 20];
        file.Position = 0;
        int read;
        while ((read = await file.ReadAsync(buffer, ct)) > 0)
        {
            hash.AppendData(buffer, 0, read);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Fetch of {Digest} from {Source} stopped at byte {Reached} (started at {Offset}, try {Attempt}): {Reason}; resuming")]
    private partial void LogTransferCut(string digest, string source, long offset, long reached, int attempt, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Fetched {What} {Digest} ({Bytes} bytes, digest checked) from {Source}")]
    private partial void LogFetched(string what, string digest, long bytes, string source);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Peer refused for {Digest}: {Source} failed ({Reason}); asking the coordinator")]
    private partial void LogPeerRefused(string digest, string source, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused the bytes of {Digest} from {Source}: they hash to {Actual} ({Bytes} bytes, {Kept} of them kept from before); discarded, asking the next source")]
    private partial void LogWrongDigest(string digest, string source, string actual, long bytes, long kept);

    [LoggerMessage(Level = LogLevel.Information, Message = "Fetch of {Digest} resumed: {Kept} bytes were kept from a cut transfer, {Total} in all")]
    private partial void LogResumed(string digest, long kept, long total);
}
