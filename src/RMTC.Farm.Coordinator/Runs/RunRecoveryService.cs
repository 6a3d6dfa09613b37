using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Coordinator.Storage;

namespace RMTC.Farm.Coordinator.Runs;

/// <summary>Recovers stored runs before the gRPC endpoint opens, so reattaching agents find their leases.</summary>
public sealed partial class RunRecoveryService(FarmScheduler scheduler, IRunStore store, ILogger<RunRecoveryService> log) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var recovered = await scheduler.RecoverAsync(store, cancellationToken);
        if (recovered > 0)
        {
            LogRecovered(recovered);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => scheduler.FlushAsync();

    [LoggerMessage(Level = LogLevel.Information, Message = "Recovered {Count} live run(s) from the store")]
    private partial void LogRecovered(int count);
}
