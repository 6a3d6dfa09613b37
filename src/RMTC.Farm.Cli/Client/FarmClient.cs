using System.CommandLine;
using Grpc.Core;
using Grpc.Net.Client;
using RMTC.Farm.Protos.Client;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Cli.Client;

/// <summary>How wrangler commands reach the coordinator, and how they report its errors.</summary>
internal static class FarmClient
{
    public const string DefaultAddress = "http://127.0.0.1:7460";

    /// <summary><c>--coordinator</c>, defaulting to RMTC_COORDINATOR, then the local default.</summary>
    public static Option<string> CoordinatorOption() => new("--coordinator", "-c")
    {
        Description = $"Coordinator address, or the addresses of a leader and its standbys separated by commas (default: $RMTC_COORDINATOR, else {DefaultAddress})",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("RMTC_COORDINATOR") is { Length: > 0 } env ? env : DefaultAddress,
    };

    public static Option<bool> JsonOption() => new("--json") { Description = "Print JSON for scripts instead of text" };

    public static GrpcChannel Channel(string address)
    {
        if (!address.Contains("://", StringComparison.Ordinal))
        {
            address = "http://" + address;
        }

        return GrpcChannel.ForAddress(address, new GrpcChannelOptions
        {
            MaxReceiveMessageSize = 64 * 1024 * 1024,
            HttpHandler = ClientAuth.Current().Apply(new SocketsHttpHandler { EnableMultipleHttp2Connections = true }),
        });
    }

    /// <summary>
    /// The job service. Inside <see cref="RunAsync"/> given several coordinators it follows the leader
    /// (<see cref="LeaderFollowingInvoker"/>), so <c>watch</c> and <c>submit --wait</c>, which reconnect with backoff,
    /// ride through a takeover as they ride through a restart.
    /// </summary>
    public static JobService.JobServiceClient Jobs(GrpcChannel channel) => Following.Value is { } leader ? new(leader) : new(channel);

    /// <summary>The leader-following invoker of the action <see cref="RunAsync"/> runs, when it was given several coordinators.</summary>
    private static readonly AsyncLocal<LeaderFollowingInvoker?> Following = new();

    /// <summary>
    /// Runs a client action against the leading coordinator, turning transport errors into one clear line and exit code
    /// 1 (2 for invalid input). <paramref name="coordinators"/> may list several coordinators (<c>a:7460,b:7460</c>): the
    /// action starts at the first; a coordinator that cannot be reached sends it to the next, and a standby's answer
    /// (UNAVAILABLE naming the leader in <see cref="LeaderHint.MetadataKey"/>) to the leader. A standby refuses before
    /// doing anything, so starting the action again there repeats nothing.
    /// </summary>
    public static async Task<int> RunAsync(string coordinators, Func<GrpcChannel, Task<int>> action)
    {
        IReadOnlyList<string> addresses;
        try
        {
            addresses = CoordinatorAddresses.Parse(coordinators, "--coordinator");
        }
        catch (FormatException e)
        {
            await Console.Error.WriteLineAsync($"error: {e.Message}");
            return 2;
        }

        var address = addresses[0];
        var delay = TimeSpan.FromMilliseconds(250);
        for (var hop = 1; ; hop++)
        {
            GrpcChannel channel;
            try
            {
                channel = Channel(address);
            }
            catch (InvalidOperationException e)
            {
                // An unreadable token or CA file.
                await Console.Error.WriteLineAsync($"error: {e.Message}");
                return 2;
            }

            // The coordinator found to answer first, then the others.
            using var following = addresses.Count > 1 ? new LeaderFollowingInvoker([address, .. addresses.Where(a => a != address)], Channel) : null;
            Following.Value = following;
            try
            {
                using (channel)
                {
                    return await action(channel);
                }
            }
            catch (RpcException e) when (hop < MaxHops && NextCoordinator(e, address, addresses) is { } next)
            {
                if (next == address)
                {
                    // The leader itself, still recovering after its takeover: wait for it, with backoff.
                    await Task.Delay(delay);
                    delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 2000));
                }

                address = next;
                continue;
            }
            catch (RpcException e) when (e.Status.DebugException is HttpRequestException { InnerException: System.Security.Authentication.AuthenticationException tls })
            {
                await Console.Error.WriteLineAsync($"error: the coordinator at {address} has a TLS certificate this host does not trust ({tls.Message}): pass the farm CA with --ca FILE or RMTC_CA_FILE");
                return 1;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && NeverConnected(e))
            {
                await Console.Error.WriteLineAsync($"error: no coordinator answers at {address} ({e.Status.Detail}). Start one with `rmtc coordinator`, or point --coordinator / RMTC_COORDINATOR at yours.");
                return 1;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable)
            {
                // Connected, then the answer broke off or could not be read: saying nobody answers would send the wrangler
                // looking for a coordinator that is there.
                await Console.Error.WriteLineAsync($"error: the coordinator at {address} was reached, but its answer broke off or could not be read ({e.Status.Detail}); try again, and see the coordinator's log if it persists");
                return 1;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.ResourceExhausted)
            {
                // gRPC's own refusal of a too-large message names no setting; the coordinator's own refusals do.
                var hint = e.Status.Detail.Contains("Coordinator:", StringComparison.Ordinal)
                    ? ""
                    : " (the coordinator takes messages up to Coordinator:MaxMessageBytes, 2 MiB by default, and job specs up to Coordinator:MaxJobSpecBytes, 256 KiB by default: a spec names its dataset, it does not carry it)";
                await Console.Error.WriteLineAsync($"error: the coordinator at {address} refused the request as too large: {e.Status.Detail}{hint}");
                return 2;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unauthenticated)
            {
                await Console.Error.WriteLineAsync($"error: the coordinator at {address} refused the call: {e.Status.Detail}");
                return 1;
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.InvalidArgument or StatusCode.NotFound or StatusCode.FailedPrecondition or StatusCode.PermissionDenied)
            {
                await Console.Error.WriteLineAsync($"error: {e.Status.Detail}");
                return 2;
            }
            catch (RpcException e)
            {
                await Console.Error.WriteLineAsync($"error: the coordinator at {address} answered {e.StatusCode}: {e.Status.Detail}");
                return 1;
            }
        }
    }

    /// <summary>How many coordinators (or tries of a recovering leader) an action goes through before its error is reported.</summary>
    private const int MaxHops = 8;

    /// <summary>
    /// Where to try next after <paramref name="e"/> from <paramref name="address"/>: the leader a standby named, else
    /// (nobody answered there) the next listed coordinator; null when neither applies.
    /// </summary>
    private static string? NextCoordinator(RpcException e, string address, IReadOnlyList<string> addresses)
    {
        if (e.StatusCode != StatusCode.Unavailable)
        {
            return null;
        }

        if (LeaderHint.Of(e) is { } leader)
        {
            return leader;
        }

        return addresses.Count > 1 && NeverConnected(e)
            ? addresses[(Math.Max(0, addresses.ToList().IndexOf(address)) + 1) % addresses.Count]
            : null;
    }

    /// <summary>True when the call failed before any coordinator answered (refused, unresolved, unreachable).</summary>
    private static bool NeverConnected(RpcException e)
    {
        for (var inner = e.Status.DebugException; inner is not null; inner = inner.InnerException)
        {
            switch (inner)
            {
                case System.Net.Sockets.SocketException:
                case HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.ProxyTunnelError }:
                    return true;
            }
        }

        // No exception to judge (e.g. a status from a proxy): keep the usual reading of Unavailable.
        return e.Status.DebugException is null;
    }
}
