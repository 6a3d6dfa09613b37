using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RMTC.Farm.Agent.Hosting;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Agent.Gpus;

/// <summary>
/// Samples the node's GPUs every <see cref="AgentOptions.GpuSampleIntervalMs"/> and keeps the latest readings for
/// heartbeats. The source is chosen once: the simulation when configured, else NVML, else nvidia-smi, else none.
/// No GPU means no samples, never an error.
/// </summary>
public sealed partial class GpuSampling(
    IOptions<AgentOptions> options,
    NvmlGpuSampler nvml,
    NvidiaSmiGpuSampler nvidiaSmi,
    TimeProvider time,
    ILogger<GpuSampling> log) : BackgroundService
{
    private readonly Lock _gate = new();
    private IReadOnlyList<GpuSample> _latest = [];
    private IGpuSampler? _sampler;
    private GpuSource? _source;
    private Func<bool> _busy = static () => false;
    private long _samples;
    private bool _failing;

    /// <summary>The readings of the last tick (empty when there are no GPUs or the last sampling failed).</summary>
    public IReadOnlyList<GpuSample> Latest => Volatile.Read(ref _latest);

    /// <summary>Ticks sampled so far, failed ones included.</summary>
    public long SampleCount => Interlocked.Read(ref _samples);

    /// <summary>
    /// Whether the agent is running a shard now; the simulation follows it. The agent sets it when it starts
    /// (the samplers are built before the agent exists).
    /// </summary>
    public Func<bool> Busy
    {
        get => Volatile.Read(ref _busy);
        set => Volatile.Write(ref _busy, value ?? throw new ArgumentNullException(nameof(value)));
    }

    /// <summary>Chooses the source on first call (probing NVML and nvidia-smi may take a while) and logs it once.</summary>
    public GpuSource SelectSource()
    {
        lock (_gate)
        {
            if (_source is { } chosen)
            {
                return chosen;
            }

            var o = options.Value;
            (_source, _sampler) = o.SimulatedGpus > 0
                ? (GpuSource.Simulated, new SimulatedGpuSampler(o.SimulatedGpus, AgentIdOf(o), () => Busy()))
                : nvml.TryInitialize() ? (GpuSource.Nvml, nvml)
                : nvidiaSmi.TryInitialize() ? (GpuSource.NvidiaSmi, (IGpuSampler)nvidiaSmi)
                : (GpuSource.None, null);
            if (_source == GpuSource.Simulated)
            {
                LogSimulated(o.SimulatedGpus);
            }
            else
            {
                LogSource(_source.Value);
            }

            return _source.Value;
        }
    }

    // Lets tests put a source of their own (one that fails, say) in place of the probing.
    internal void UseSampler(GpuSource source, IGpuSampler sampler)
    {
        lock (_gate)
        {
            (_source, _sampler) = (source, sampler);
        }
    }

    /// <summary>Takes one sample now and makes it <see cref="Latest"/>; a failing sampler yields no samples for this tick.</summary>
    public void SampleNow()
    {
        var sampler = SelectSource() == GpuSource.None ? null : _sampler;
        IReadOnlyList<GpuSample> samples = [];
        if (sampler is not null)
        {
            try
            {
                samples = sampler.Sample();
                if (_failing)
                {
                    _failing = false;
                    LogRecovered();
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Stale readings would be worse than none: the coordinator would show a dead GPU as busy.
                // Log only the first failure of a streak so a broken driver does not flood the log every tick.
                if (!_failing)
                {
                    _failing = true;
                    LogSampleFailed(e);
                }
            }
        }

        Volatile.Write(ref _latest, samples);
        Interlocked.Increment(ref _samples);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // The timer exists before the first await, so a tick of the (possibly fake) clock is never missed.
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(options.Value.GpuSampleIntervalMs), time);
        try
        {
            // Probing runs nvidia-smi, which can block for seconds: keep it off the host's start-up path.
            if (await Task.Run(SelectSource, stoppingToken) == GpuSource.None)
            {
                return;
            }

            SampleNow();
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                SampleNow();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private static string AgentIdOf(AgentOptions o) => string.IsNullOrWhiteSpace(o.Id) ? Environment.MachineName : o.Id;

    [LoggerMessage(Level = LogLevel.Information, Message = "GPU sampling source: {Source}")]
    private partial void LogSource(GpuSource source);

    [LoggerMessage(Level = LogLevel.Warning, Message = "GPU sampling source: SIMULATED, {Count} GPU(s) (Agent:SimulatedGpus); these are not real GPUs")]
    private partial void LogSimulated(int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "GPU sampling failed; heartbeats carry no GPU samples until it recovers")]
    private partial void LogSampleFailed(Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "GPU sampling recovered")]
    private partial void LogRecovered();
}
