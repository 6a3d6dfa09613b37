using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Grpc.Core;
using RMTC.Farm.Agent.Weights;
using RMTC.Farm.Protos.Client;
using RMTC.Farm.Protos.DataPlane;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Agent.Execution.Transfers;

/// <summary>
/// The agent's end of the coordinator's HTTP data plane (README, Weights data plane): ranged GETs of artifacts (an
/// <see cref="IArtifactSource"/>) and resumable PUTs of results. Answers map to the gRPC status codes the same refusals
/// carry over gRPC, so the shard executor reads one kind of refusal whichever path moved the bytes.
/// </summary>
public sealed class DataPlaneClient : IArtifactSource, IDisposable
{
    /// <summary>A transfer that receives nothing for this long is taken as cut (and resumed).</summary>
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(30);

    private const int BufferBytes = 1 << 20;
    private readonly HttpClient _http;
    private readonly TimeSpan _idleTimeout;
    private readonly string _what;

    /// <summary>
    /// A client of the data plane at <paramref name="baseAddress"/>, presenting <paramref name="credentials"/> (token, CA,
    /// client certificate). <paramref name="idleTimeout"/> (default <see cref="IdleTimeout"/>) bounds both the connect and
    /// each wait for bytes; <paramref name="what"/> names the server in logs ("data plane" by default).
    /// </summary>
    public DataPlaneClient(Uri baseAddress, FarmCredentials credentials, TimeSpan? idleTimeout = null, string what = "data plane")
    {
        BaseAddress = baseAddress;
        _idleTimeout = idleTimeout ?? IdleTimeout;
        _what = what;
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = _idleTimeout < TimeSpan.FromSeconds(5) ? _idleTimeout : TimeSpan.FromSeconds(5),
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
            // Bulk bytes: the default 1 s wait for "100 Continue" is only for a refusal that comes before them.
            Expect100ContinueTimeout = TimeSpan.FromSeconds(5),
        };
        _http = new HttpClient(credentials.Apply(handler)) { BaseAddress = baseAddress, Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>Where the data plane is.</summary>
    public Uri BaseAddress { get; }

    /// <inheritdoc/>
    public string Name => $"{_what} {BaseAddress}";

    /// <inheritdoc/>
    public async Task CopyToAsync(string digest, ArtifactType type, long offset, Stream destination, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, DataPlaneWire.ArtifactPath(digest, type == ArtifactType.Torchscript));
        if (offset > 0)
        {
            request.Headers.Range = new RangeHeaderValue(offset, null);
        }

        using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        idle.CancelAfter(_idleTimeout);
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, idle.Token);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                throw new ArtifactMissingException((await ReadAnswerAsync(response, idle.Token)).Reason);
            }

            if (offset > 0 && response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
            {
                // Everything was here already: the digest check decides.
                return;
            }

            if (!response.IsSuccessStatusCode)
            {
                throw new IOException($"{Name} answered {(int)response.StatusCode}: {(await ReadAnswerAsync(response, idle.Token)).Reason}");
            }

            if (offset > 0 && response.Content.Headers.ContentRange?.From != offset)
            {
                throw new IOException($"{Name} did not answer the range from byte {offset}");
            }

            await using var body = await response.Content.ReadAsStreamAsync(idle.Token);
            var buffer = ArrayPool<byte>.Shared.Rent(BufferBytes);
            try
            {
                int read;
                while ((read = await body.ReadAsync(buffer.AsMemory(0, BufferBytes), idle.Token)) > 0)
                {
                    await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                    idle.CancelAfter(_idleTimeout);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new IOException($"{Name} sent nothing for {_idleTimeout.TotalSeconds:0.#} s");
        }
    }

    /// <summary>
    /// Uploads <paramref name="path"/> (whose sha256 is <paramref name="digest"/>) for the lease <paramref name="metadata"/>
    /// names; with <paramref name="resume"/>, first asks how much of it the coordinator holds and sends only the rest.
    /// Returns the stored digest and whether it was a duplicate. Refusals throw <see cref="RpcException"/> with the status
    /// the gRPC upload would have had (FailedPrecondition: stale lease; DataLoss: corrupt; InvalidArgument: refused);
    /// a cut or an unreachable data plane throws <see cref="HttpRequestException"/> or <see cref="IOException"/>.
    /// </summary>
    public async Task<(string Digest, bool Duplicate)> UploadAsync(string path, string digest, UploadMetadata metadata, bool resume, CancellationToken ct)
    {
        var length = new FileInfo(path).Length;
        var header = JsonSerializer.Serialize(metadata);
        var offset = resume ? await OffsetAsync(digest, header, ct) : 0;
        for (var attempt = 0; ; attempt++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Put, DataPlaneWire.ArtifactPath(digest));
            request.Headers.Add(DataPlaneWire.UploadHeader, header);
            // A refusal before the bytes (stale lease, too large, already answered) comes instead of "100 Continue".
            request.Headers.ExpectContinue = true;
            await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous | FileOptions.SequentialScan);
            file.Position = offset;
            request.Content = new StreamContent(file, BufferBytes);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            if (offset > 0)
            {
                request.Content.Headers.ContentRange = new ContentRangeHeaderValue(offset, length - 1, length);
            }

            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
            var answer = await ReadAnswerAsync(response, ct);
            if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable && attempt < 3
                && response.Headers.TryGetValues(DataPlaneWire.UploadOffsetHeader, out var values)
                && long.TryParse(values.FirstOrDefault(), NumberStyles.None, CultureInfo.InvariantCulture, out var held))
            {
                offset = held;
                continue;
            }

            return response.StatusCode switch
            {
                HttpStatusCode.OK => (answer.Digest.Length > 0 ? answer.Digest : digest, answer.Verdict == DataPlaneAnswer.Duplicate),
                HttpStatusCode.Conflict when answer.Verdict == DataPlaneAnswer.Stale => throw Refusal(StatusCode.FailedPrecondition, answer),
                HttpStatusCode.RequestEntityTooLarge => throw Refusal(StatusCode.ResourceExhausted, answer),
                HttpStatusCode.UnprocessableEntity when answer.Verdict == "corrupt" => throw Refusal(StatusCode.DataLoss, answer),
                HttpStatusCode.UnprocessableEntity or HttpStatusCode.BadRequest => throw Refusal(StatusCode.InvalidArgument, answer),
                HttpStatusCode.Unauthorized => throw Refusal(StatusCode.Unauthenticated, answer),
                _ => throw new IOException($"{Name} answered the upload {(int)response.StatusCode}: {answer.Reason}"),
            };
        }
    }

    /// <summary>How many bytes of this upload the coordinator holds (0 when it holds none).</summary>
    private async Task<long> OffsetAsync(string digest, string header, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Head, DataPlaneWire.ArtifactPath(digest));
        request.Headers.Add(DataPlaneWire.UploadHeader, header);
        using var response = await _http.SendAsync(request, ct);
        return response.Headers.TryGetValues(DataPlaneWire.UploadOffsetHeader, out var values)
            && long.TryParse(values.FirstOrDefault(), NumberStyles.None, CultureInfo.InvariantCulture, out var held)
                ? held
                : 0;
    }

    private static async Task<DataPlaneAnswer> ReadAnswerAsync(HttpResponseMessage response, CancellationToken ct)
    {
        if (response.Content.Headers.ContentType?.MediaType != "application/json")
        {
            return new DataPlaneAnswer("", response.ReasonPhrase ?? "", "");
        }

        try
        {
            return JsonSerializer.Deserialize<DataPlaneAnswer>(await response.Content.ReadAsStringAsync(ct)) ?? new DataPlaneAnswer("", "", "");
        }
        catch (JsonException e)
        {
            return new DataPlaneAnswer("", $"unreadable answer ({e.Message})", "");
        }
    }

    private static RpcException Refusal(StatusCode code, DataPlaneAnswer answer) => new(new Status(code, answer.Reason));

    public void Dispose() => _http.Dispose();
}
