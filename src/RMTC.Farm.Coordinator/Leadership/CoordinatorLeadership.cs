using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RMTC.Farm.Coordinator.Storage;

namespace RMTC.Farm.Coordinator.Leadership;

/// <summary>
/// This coordinator's standing in leader election: read by the gRPC gate (serve, or send clients to the leader) and by
/// the Redis store (the fencing token its writes carry). With leadership off it always serves.
/// </summary>
/// <remarks>
/// A leader that loses its lease does not become a standby in place: its memory of the runs may be behind the new
/// leader's writes. It stops taking calls and writing at once, and ends the process with
/// <see cref="SteppedDownExitCode"/>, so its supervisor (systemd's <c>Restart=always</c>) starts it again, fresh, as a standby.
/// </remarks>
public sealed partial class CoordinatorLeadership(IOptions<LeadershipOptions> options, LeadershipMetrics metrics, IHostApplicationLifetime lifetime, ILogger<CoordinatorLeadership> log) : IStoreFence
{
    /// <summary>The exit code of a coordinator that stepped down (EX_TEMPFAIL: start it again).</summary>
    public const int SteppedDownExitCode = 75;

    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _steppedDown = new();
    private LeaderPhase _phase = LeaderPhase.Standby;
    private long _token;

    /// <summary>Whether this coordinator takes part in leader election.</summary>
    public bool Enabled => options.Value.Enabled;

    /// <summary>The address clients reach this coordinator by.</summary>
    public string? AdvertisedAddress => options.Value.AdvertisedAddress;

    /// <summary>Where this coordinator stands.</summary>
    public LeaderPhase Phase
    {
        get
        {
            lock (_lock)
            {
                return _phase;
            }
        }
    }

    /// <summary>Whether gRPC calls are served here: always without leadership, else only while leading.</summary>
    public bool Serving => !Enabled || Phase == LeaderPhase.Leading;

    /// <summary>The advertised address of the coordinator that holds the lease, as last seen; null when unknown.</summary>
    public string? LeaderAddress { get; private set; }

    /// <summary>Cancelled when this coordinator steps down: calls in flight (agents' sessions, uploads) are cut off with it.</summary>
    public CancellationToken SteppedDownToken => _steppedDown.Token;

    /// <summary>Why it stepped down, once it did.</summary>
    public string? SteppedDownBecause { get; private set; }

    /// <inheritdoc />
    public long Token
    {
        get
        {
            lock (_lock)
            {
                return _phase is LeaderPhase.Recovering or LeaderPhase.Leading ? _token : 0;
            }
        }
    }

    /// <inheritdoc />
    public void Refused(long newer, string what)
    {
        metrics.WriteRefused();
        StepDown($"Redis refused a write of {what}: coordinator with fencing token {newer} took the leader lease");
    }

    /// <summary>Another coordinator holds the lease (or nobody, when <paramref name="address"/> is null).</summary>
    internal void Observe(string? address) => LeaderAddress = address;

    /// <summary>
    /// Why this coordinator does not serve now, in words for a wrangler, and where the leader is (null when unknown or
    /// when clients should wait here): what the gRPC gate and the Explorer answer.
    /// </summary>
    public (string Text, string? Leader) NotServing()
    {
        var me = AdvertisedAddress;
        var phase = Phase;
        // A coordinator recovering after its takeover is the leader: clients wait for it rather than go elsewhere.
        var leader = phase == LeaderPhase.Recovering ? me : LeaderAddress is { } l && l != me ? l : null;
        var text = phase switch
        {
            LeaderPhase.Recovering => $"coordinator {me} has just taken over as leader and is recovering the live runs: retry in a moment",
            LeaderPhase.SteppedDown => $"coordinator {me} stepped down as leader ({SteppedDownBecause}) and is stopping" + (leader is null ? "" : $"; the leader is {leader}"),
            _ when leader is not null => $"coordinator {me} is a standby; the leader is {leader}: send calls there (clients given every coordinator's address, e.g. --coordinator {leader},{me}, follow it on their own)",
            _ => $"coordinator {me} is a standby and no coordinator holds the leader lease yet: retry in a moment",
        };
        return (text, leader);
    }

    /// <summary>This coordinator took the lease with <paramref name="token"/>: it recovers the runs before it serves.</summary>
    internal void Acquired(long token)
    {
        lock (_lock)
        {
            if (_phase != LeaderPhase.Standby)
            {
                return;
            }

            _token = token;
            _phase = LeaderPhase.Recovering;
        }

        LeaderAddress = AdvertisedAddress;
        metrics.TookOver();
        LogAcquired(token, AdvertisedAddress ?? "");
    }

    /// <summary>Recovery is done: calls are served from now on.</summary>
    internal void Serve()
    {
        lock (_lock)
        {
            if (_phase != LeaderPhase.Recovering)
            {
                return;
            }

            _phase = LeaderPhase.Leading;
        }

        metrics.Leading(true);
        LogServing(_token);
    }

    /// <summary>
    /// Stops leading for good: no call is served and nothing is written from now on, and the process ends with
    /// <see cref="SteppedDownExitCode"/>. Only the first reason is kept.
    /// </summary>
    public void StepDown(string reason)
    {
        long token;
        lock (_lock)
        {
            if (_phase is LeaderPhase.SteppedDown or LeaderPhase.Standby)
            {
                return;
            }

            token = _token;
            _phase = LeaderPhase.SteppedDown;
        }

        SteppedDownBecause = reason;
        metrics.Leading(false);
        LogSteppedDown(token, reason);
        // Sessions still open would keep agents training for a scheduler whose memory is stale; cut them now, and
        // they reconnect to the leader.
        _steppedDown.Cancel();
        lifetime.StopApplication();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Took the leader lease with fencing token {Token} (advertised as {Address}); recovering the live runs before serving")]
    private partial void LogAcquired(long token, string address);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Leading with fencing token {Token}: serving agents and wranglers")]
    private partial void LogServing(long token);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Stepped down as leader (fencing token {Token}): {Reason}. Nothing more is written; the coordinator stops (exit code 75) so that it comes back as a standby")]
    private partial void LogSteppedDown(long token, string reason);
}
