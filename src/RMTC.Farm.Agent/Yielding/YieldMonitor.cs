using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace RMTC.Farm.Agent.Yielding;

/// <summary>
/// Watches the yield sources of <see cref="YieldOptions"/> and says whether the node belongs to rendering right now.
/// Rendering comes first: while any source says yield, running shards are stopped with a checkpoint and the agent takes
/// no new ones. Checked every <see cref="YieldOptions.PollIntervalMs"/>, and at once on SIGUSR1 / SIGUSR2.
/// </summary>
public sealed partial class YieldMonitor(IOptions<YieldOptions> options, TimeProvider time, ILogger<YieldMonitor> log) : BackgroundService
{
    /// <summary>SIGUSR1 and SIGUSR2 on Linux (.NET takes raw signal numbers cast to <see cref="PosixSignal"/>).</summary>
    private const PosixSignal SigUsr1 = (PosixSignal)10;
    private const PosixSignal SigUsr2 = (PosixSignal)12;

    private readonly SemaphoreSlim _wake = new(0, 1);
    private volatile string? _reason;
    private volatile bool _forced;
    private bool _probeSaysRender;

    /// <summary>Why the node is yielded now, or null while it is free.</summary>
    public string? Reason => _reason;

    /// <summary>True while rendering needs the node.</summary>
    public bool IsYielding => _reason is not null;

    /// <summary>Raised (on the monitor's loop) when the node starts yielding (with the reason) or becomes free (null).</summary>
    public event Action<string?>? Changed;

    /// <summary>Forces a yield until <see cref="Release"/> (what SIGUSR1 does).</summary>
    public void Force()
    {
        _forced = true;
        Wake();
    }

    /// <summary>Ends a forced yield (what SIGUSR2 does); the flag file and probe still count.</summary>
    public void Release()
    {
        _forced = false;
        Wake();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        using var usr1 = OperatingSystem.IsWindows() ? null : PosixSignalRegistration.Create(SigUsr1, c => OnSignal(c, force: true));
        using var usr2 = OperatingSystem.IsWindows() ? null : PosixSignalRegistration.Create(SigUsr2, c => OnSignal(c, force: false));
        LogSources(o.FlagFile ?? "(none)", o.ProbeCommand ?? "(none)", o.Signals, o.PollIntervalMs);
        var interval = TimeSpan.FromMilliseconds(o.PollIntervalMs);
        while (!stoppingToken.IsCancellationRequested)
        {
            await EvaluateAsync(stoppingToken);
            // Sleep until the next poll or a signal, whichever comes first; the waiter is always ended so it cannot
            // swallow a later wake-up.
            using var timer = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            var woken = _wake.WaitAsync(timer.Token);
            try
            {
                await Task.WhenAny(Task.Delay(interval, time, timer.Token), woken);
            }
            finally
            {
                await timer.CancelAsync();
            }

            try
            {
                await woken;
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    private void OnSignal(PosixSignalContext context, bool force)
    {
        // Handled either way: the default action of SIGUSR1/2 would end the agent.
        context.Cancel = true;
        if (!options.Value.Signals)
        {
            LogSignalIgnored(force ? "SIGUSR1" : "SIGUSR2");
            return;
        }

        LogSignal(force ? "SIGUSR1" : "SIGUSR2", force ? "yield until SIGUSR2" : "forced yield ended");
        if (force)
        {
            Force();
        }
        else
        {
            Release();
        }
    }

    private void Wake()
    {
        try
        {
            _wake.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already woken.
        }
    }

    /// <summary>Checks every source once and raises <see cref="Changed"/> when the answer changed.</summary>
    internal async Task EvaluateAsync(CancellationToken ct)
    {
        var o = options.Value;
        string? reason = null;
        if (_forced)
        {
            reason = "SIGUSR1 received (SIGUSR2 ends it)";
        }
        else if (o.FlagFile is { Length: > 0 } flag && File.Exists(flag))
        {
            reason = $"flag file {flag} exists";
        }
        else if (o.ProbeCommand is { Length: > 0 } probe)
        {
            _probeSaysRender = await ProbeAsync(probe, TimeSpan.FromMilliseconds(o.ProbeTimeoutMs), ct) ?? _probeSaysRender;
            if (_probeSaysRender)
            {
                reason = $"probe `{probe}` exited 0 (a render runs here)";
            }
        }

        var previous = _reason;
        if ((previous is null) == (reason is null))
        {
            _reason = reason ?? previous;
            return;
        }

        _reason = reason;
        if (reason is not null)
        {
            LogYielding(reason);
        }
        else
        {
            LogFree(previous!);
        }

        Changed?.Invoke(reason);
    }

    /// <summary>Runs the probe: true when it exits 0, false on any other code, null when it could not answer in time.</summary>
    private async Task<bool?> ProbeAsync(string command, TimeSpan timeout, CancellationToken ct)
    {
        var info = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(command);
        Process process;
        try
        {
            process = Process.Start(info) ?? throw new InvalidOperationException("no process");
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            LogProbeFailed(command, e.Message);
            return null;
        }

        using (process)
        {
            // Drain the pipes so a chatty probe (pgrep lists pids) never blocks on a full pipe.
            var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
            var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
            limit.CancelAfter(timeout);
            try
            {
                await process.WaitForExitAsync(limit.Token);
            }
            catch (OperationCanceledException)
            {
                try
                {
                    process.Kill(entireProcessTree: true);
                }
                catch (InvalidOperationException)
                {
                }

                if (!ct.IsCancellationRequested)
                {
                    LogProbeFailed(command, $"no answer within {timeout.TotalMilliseconds:F0} ms; killed, last answer stands");
                }

                return null;
            }

            await Task.WhenAll(stdout, stderr);
            return process.ExitCode == 0;
        }
    }

    public override void Dispose()
    {
        _wake.Dispose();
        base.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Render-first yield sources: flag file {FlagFile}, probe {Probe}, signals {Signals}, every {IntervalMs} ms")]
    private partial void LogSources(string flagFile, string probe, bool signals, int intervalMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Yielding the node to rendering: {Reason}; running shards stop with a checkpoint, no new shards are taken")]
    private partial void LogYielding(string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Node free again (was: {Reason}); taking shards")]
    private partial void LogFree(string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Signal} received: {Effect}")]
    private partial void LogSignal(string signal, string effect);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Signal} ignored: Agent:Yield:Signals is false")]
    private partial void LogSignalIgnored(string signal);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Yield probe `{Probe}` failed: {Reason}")]
    private partial void LogProbeFailed(string probe, string reason);
}
