using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RMTC.Farm.Agent.Hosting;
using RMTC.Farm.Agent.Session;
using RMTC.Farm.Core.Digests;
using RMTC.Farm.Protos.DataPlane;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Agent.Weights;

/// <summary>
/// This agent's weights cache, served read-only to peer agents on its own HTTP/1.1 port (<see cref="PeerDataPlaneOptions"/>):
/// <c>GET|HEAD /artifacts/sha256/HEX[?kind=torchscript]</c> with <c>Range</c>, the coordinator's data plane's requests.
/// A digest this node holds is served from its verified file; one it is fetching now is relayed as the bytes arrive
/// (the receiver checks the digest, as it checks every source's). Each request must carry the farm token as the
/// coordinator's data plane asks it. Serving is off, and the coordinator names this agent to no one, when
/// the port is -1 or when peers could not be authenticated safely (see <see cref="WhyNotServing"/>).
/// </summary>
public sealed partial class PeerCacheServer(WeightsCache cache, TransferCounters counters, IOptions<AgentOptions> options, TimeProvider time, ILogger<PeerCacheServer> log) : IHostedService, IAsyncDisposable, IDisposable
{
    /// <summary>How long a request for a digest this node neither holds nor fetches waits for its fetch to begin (the coordinator names a peer as it sends it the lease).</summary>
    public static readonly TimeSpan FetchStartWait = TimeSpan.FromSeconds(2);

    private const int RelayBufferBytes = 1 << 20;

    private readonly TaskCompletionSource<string?> _advertised = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private WebApplication? _app;
    private byte[]? _token;

    /// <summary>
    /// What this agent tells the coordinator when it registers (<c>RegisterRequest.peer_data_plane</c>), e.g.
    /// <c>http://0.0.0.0:41235</c>, once the listener is bound; null when it serves nothing.
    /// </summary>
    public Task<string?> AdvertisedAsync => _advertised.Task;

    /// <summary>
    /// Why the cache cannot be served under these settings, or null when it can: a farm that authenticates agents by
    /// client certificate alone (a peer could not tell a farm agent from anyone), or a TLS farm whose token would cross
    /// the network in clear to a listener beyond loopback.
    /// </summary>
    public static string? WhyNotServing(AgentOptions o, string? token)
    {
        var peers = o.PeerDataPlane;
        if (!peers.Serves)
        {
            return null;
        }

        if (token is null && !string.IsNullOrWhiteSpace(o.ClientCertificatePath))
        {
            return "the farm authenticates agents by client certificate only, and the peer data plane speaks plain HTTP with the farm token: give agents the farm token too (Agent:TokenFile), or set Agent:PeerDataPlane:Port to -1";
        }

        if (IsTlsFarm(o) && !IPAddress.IsLoopback(IPAddress.Parse(peers.ListenAddress)))
        {
            return $"the coordinator speaks TLS and the peer data plane speaks plain HTTP: on {peers.ListenAddress} the farm token would cross the network in clear; keep Agent:PeerDataPlane:ListenAddress on 127.0.0.1 (peers on this host), or set Agent:PeerDataPlane:Port to -1";
        }

        return null;
    }

    /// <summary>True when the agent reaches its coordinator over TLS (an <c>https://</c> address).</summary>
    public static bool IsTlsFarm(AgentOptions o) => o.Coordinator.Contains("https://", StringComparison.OrdinalIgnoreCase);

    /// <inheritdoc/>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        var token = AgentChannel.Credentials(o).Token;
        if (!o.PeerDataPlane.Serves)
        {
            _advertised.TrySetResult(null);
            return;
        }

        if (WhyNotServing(o, token) is { } why)
        {
            LogNotServing(why);
            _advertised.TrySetResult(null);
            return;
        }

        _token = token is null ? null : Encoding.UTF8.GetBytes(token);
        // An empty builder: no configuration sources, so nothing in the environment (ASPNETCORE_URLS, Kestrel__Endpoints)
        // binds this listener anywhere but where Agent:PeerDataPlane says.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.WebHost.UseKestrelCore();
        var address = IPAddress.Parse(o.PeerDataPlane.ListenAddress);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(address, o.PeerDataPlane.Port, listen => listen.Protocols = HttpProtocols.Http1);
        });
        var app = builder.Build();
        app.Run(ServeAsync);
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException)
        {
            // A busy port must not keep the agent from training: it fetches from the coordinator as before.
            LogNotServing($"cannot listen on {address}:{o.PeerDataPlane.Port} ({e.Message}); set Agent:PeerDataPlane:Port to a free port, 0 for any, or -1");
            await app.DisposeAsync();
            _advertised.TrySetResult(null);
            return;
        }

        _app = app;
        var bound = new Uri(app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First());
        var host = o.PeerDataPlane.AdvertiseHost is { Length: > 0 } advertise ? advertise : address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString();
        var advertised = $"http://{host}:{bound.Port}";
        LogServing(advertised, token is null ? "no token (the farm has none)" : "the farm token");
        _advertised.TrySetResult(advertised);
    }

    /// <inheritdoc/>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _advertised.TrySetResult(null);
        if (_app is { } app)
        {
            await app.StopAsync(cancellationToken);
        }
    }

    private async Task ServeAsync(HttpContext context)
    {
        var request = context.Request;
        var response = context.Response;
        if (_token is { } token && !Authorized(request.Headers.Authorization.ToString(), token))
        {
            await ProblemAsync(context, StatusCodes.Status401Unauthorized, "this agent's cache asks for the farm token (Authorization: Bearer TOKEN), as the coordinator's data plane does");
            return;
        }

        const string prefix = "/artifacts/sha256/";
        var path = request.Path.Value ?? "";
        if (!path.StartsWith(prefix, StringComparison.Ordinal))
        {
            await ProblemAsync(context, StatusCodes.Status404NotFound, $"an agent serves only {prefix}HEX");
            return;
        }

        if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method))
        {
            await ProblemAsync(context, StatusCodes.Status405MethodNotAllowed, "an agent's cache is read-only: GET or HEAD");
            return;
        }

        var hex = path[prefix.Length..];
        if (!Sha256Digest.IsValid(hex))
        {
            await ProblemAsync(context, StatusCodes.Status400BadRequest, $"'{hex}' is not a sha256 digest (64 lowercase hex characters)");
            return;
        }

        var kind = request.Query["kind"].ToString();
        var type = kind == "torchscript" ? ArtifactType.Torchscript : ArtifactType.Weights;
        if (kind.Length > 0 && kind != "torchscript" && kind != "weights")
        {
            await ProblemAsync(context, StatusCodes.Status400BadRequest, $"kind '{kind}' is not served by an agent: weights (the default) or torchscript");
            return;
        }

        var file = cache.Held(hex, type);
        if (file is null)
        {
            var relay = await HeldOrFetchingAsync(hex, type, context.RequestAborted);
            file = cache.Held(hex, type);
            if (file is null && relay is not null && request.Headers.Range.Count == 0 && HttpMethods.IsGet(request.Method))
            {
                await RelayAsync(context, hex, relay);
                return;
            }

            if (file is null)
            {
                await ProblemAsync(context, StatusCodes.Status404NotFound, $"this agent holds no {(type == ArtifactType.Torchscript ? "model file" : "weights")} with digest {hex}");
                return;
            }
        }

        var size = new FileInfo(file).Length;
        response.Headers.AcceptRanges = "bytes";
        response.Headers.ETag = $"\"{hex}\"";
        response.ContentType = "application/octet-stream";
        long from = 0;
        var to = size - 1;
        if (System.Net.Http.Headers.RangeHeaderValue.TryParse(request.Headers.Range.ToString(), out var range)
            && range.Unit == "bytes" && range.Ranges.Count == 1 && range.Ranges.First() is { } asked)
        {
            if (asked.From is { } start)
            {
                from = start;
                to = Math.Min(asked.To ?? to, to);
            }
            else if (asked.To is { } suffix)
            {
                from = Math.Max(0, size - suffix);
            }

            if (from >= size || from > to)
            {
                response.Headers.ContentRange = $"bytes */{size}";
                await ProblemAsync(context, StatusCodes.Status416RangeNotSatisfiable, $"range '{request.Headers.Range}' starts past the end of the {size}-byte artifact");
                return;
            }

            response.StatusCode = StatusCodes.Status206PartialContent;
            response.Headers.ContentRange = $"bytes {from}-{to}/{size}";
        }

        var length = size == 0 ? 0 : to - from + 1;
        response.ContentLength = length;
        if (HttpMethods.IsHead(request.Method) || length == 0)
        {
            return;
        }

        await response.SendFileAsync(file, from, length, context.RequestAborted);
        counters.Served(length);
        LogServed(hex, length, from, context.Connection.RemoteIpAddress?.ToString() ?? "?");
    }

    /// <summary>Waits up to <see cref="FetchStartWait"/> for this node to hold the digest or to be fetching it; the fetch under way, or null.</summary>
    private async Task<InFlightFetch?> HeldOrFetchingAsync(string hex, ArtifactType type, CancellationToken ct)
    {
        var deadline = time.GetUtcNow() + FetchStartWait;
        while (true)
        {
            if (cache.Fetching(hex, type) is { } relay)
            {
                return relay;
            }

            if (cache.Held(hex, type) is not null || time.GetUtcNow() >= deadline)
            {
                return null;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(20), time, ct);
        }
    }

    /// <summary>
    /// Relays a fetch under way as its bytes land in the partial file (length unknown: chunked), then the rest from the
    /// verified file. A fetch whose bytes were thrown away (wrong digest) or that failed cuts the relay: the receiver
    /// checks the digest itself and goes on from the coordinator.
    /// </summary>
    private async Task RelayAsync(HttpContext context, string hex, InFlightFetch relay)
    {
        var ct = context.RequestAborted;
        var response = context.Response;
        response.Headers.ETag = $"\"{hex}\"";
        response.ContentType = "application/octet-stream";
        await response.StartAsync(ct);
        var generation = relay.Generation;
        long sent = 0;
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(RelayBufferBytes);
        try
        {
            while (true)
            {
                // Taken before the state is read, so a change between the two is not missed.
                var changed = relay.Changed;
                var written = relay.Written;
                if (relay.Generation != generation)
                {
                    context.Abort();
                    return;
                }

                if (sent < written)
                {
                    int read;
                    try
                    {
                        read = RandomAccess.Read(relay.Handle, buffer.AsSpan(0, (int)Math.Min(RelayBufferBytes, written - sent)), sent);
                    }
                    catch (ObjectDisposedException)
                    {
                        // The fetch closed its file: it is ending; the rest comes from the verified file.
                        break;
                    }

                    if (relay.Generation != generation)
                    {
                        context.Abort();
                        return;
                    }

                    if (read > 0)
                    {
                        await response.Body.WriteAsync(buffer.AsMemory(0, read), ct);
                        sent += read;
                        continue;
                    }
                }

                if (relay.Done.IsCompleted)
                {
                    break;
                }

                await changed.WaitAsync(ct);
            }

            var verified = await relay.Done.WaitAsync(TimeSpan.FromSeconds(30), time, ct);
            if (verified is null)
            {
                context.Abort();
                return;
            }

            await using var rest = new FileStream(verified, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous | FileOptions.SequentialScan);
            rest.Position = sent;
            int more;
            while ((more = await rest.ReadAsync(buffer.AsMemory(0, RelayBufferBytes), ct)) > 0)
            {
                await response.Body.WriteAsync(buffer.AsMemory(0, more), ct);
                sent += more;
            }

            counters.Served(sent);
            LogRelayed(hex, sent, context.Connection.RemoteIpAddress?.ToString() ?? "?");
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static bool Authorized(string header, byte[] token)
    {
        const string bearer = "Bearer ";
        return header.StartsWith(bearer, StringComparison.OrdinalIgnoreCase)
            && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(header[bearer.Length..].Trim()), token);
    }

    private static Task ProblemAsync(HttpContext context, int status, string reason)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(JsonSerializer.Serialize(new DataPlaneAnswer("", reason, "")), context.RequestAborted);
    }

    /// <inheritdoc/>
    public void Dispose() => (_app as IDisposable)?.Dispose();

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        if (_app is { } app)
        {
            await app.DisposeAsync();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Serving the weights cache to peer agents at {Address} ({Auth})")]
    private partial void LogServing(string address, string auth);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Not serving the weights cache to peer agents: {Why}")]
    private partial void LogNotServing(string why);

    [LoggerMessage(Level = LogLevel.Information, Message = "Relayed {Digest} to a peer at {Peer} while fetching it: {Bytes} bytes")]
    private partial void LogRelayed(string digest, long bytes, string peer);

    [LoggerMessage(Level = LogLevel.Information, Message = "Served {Digest} to a peer at {Peer}: {Bytes} bytes from byte {From}")]
    private partial void LogServed(string digest, long bytes, long from, string peer);
}
