using Microsoft.Extensions.Hosting;

namespace RMTC.Farm.Integration.Tests;

/// <summary>A host lifetime for pieces tested without a host.</summary>
public sealed class TestLifetime : IHostApplicationLifetime
{
    private readonly CancellationTokenSource _stopping = new();

    public CancellationToken ApplicationStarted => CancellationToken.None;
    public CancellationToken ApplicationStopping => _stopping.Token;
    public CancellationToken ApplicationStopped => CancellationToken.None;

    public void StopApplication() => _stopping.Cancel();
}
