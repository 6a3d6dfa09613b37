using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using RMTC.Farm.Agent.Yielding;

namespace RMTC.Farm.Integration.Tests.Yielding;

/// <summary>The yield sources one evaluation at a time (no clock, no sleeps): flag file, probe command, forced yield.</summary>
public sealed class YieldMonitorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rmtc-yield-").FullName;

    [Fact]
    public async Task The_flag_file_yields_while_it_exists_and_each_change_is_raised_once()
    {
        var flag = Path.Combine(_dir, "yield");
        using var monitor = Create(new YieldOptions { FlagFile = flag });
        var changes = new List<string?>();
        monitor.Changed += changes.Add;

        await monitor.EvaluateAsync(CancellationToken.None);
        Assert.False(monitor.IsYielding);
        await File.WriteAllTextAsync(flag, "");
        await monitor.EvaluateAsync(CancellationToken.None);
        await monitor.EvaluateAsync(CancellationToken.None);
        Assert.True(monitor.IsYielding);
        Assert.Contains(flag, monitor.Reason);
        File.Delete(flag);
        await monitor.EvaluateAsync(CancellationToken.None);

        Assert.Null(monitor.Reason);
        Assert.Equal(2, changes.Count);
        Assert.Contains("flag file", changes[0]);
        Assert.Null(changes[1]);
    }

    [Fact]
    public async Task The_probe_yields_on_exit_0_frees_on_any_other_code_and_a_hung_probe_keeps_the_last_answer()
    {
        var marker = Path.Combine(_dir, "render");
        using var monitor = Create(new YieldOptions { ProbeCommand = $"test -e '{marker}'", ProbeTimeoutMs = 500 });
        await monitor.EvaluateAsync(CancellationToken.None);
        Assert.False(monitor.IsYielding);
        await File.WriteAllTextAsync(marker, "");
        await monitor.EvaluateAsync(CancellationToken.None);
        Assert.Contains("exited 0", monitor.Reason);

        using var hung = Create(new YieldOptions { ProbeCommand = "sleep 30", ProbeTimeoutMs = 200 });
        await hung.EvaluateAsync(CancellationToken.None);
        Assert.False(hung.IsYielding);
    }

    [Fact]
    public async Task A_forced_yield_lasts_until_released_whatever_the_other_sources_say()
    {
        using var monitor = Create(new YieldOptions());
        monitor.Force();
        await monitor.EvaluateAsync(CancellationToken.None);
        Assert.Contains("SIGUSR1", monitor.Reason);
        monitor.Release();
        await monitor.EvaluateAsync(CancellationToken.None);
        Assert.False(monitor.IsYielding);
    }

    private static YieldMonitor Create(YieldOptions options) =>
        new(Options.Create(options), new FakeTimeProvider(), NullLogger<YieldMonitor>.Instance);

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
