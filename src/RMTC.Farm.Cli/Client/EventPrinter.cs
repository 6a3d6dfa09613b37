using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Cli.Client;

/// <summary>Prints a job's events as they come: one line each (progress thinned to one per shard every few seconds), or JSON.</summary>
internal sealed class EventPrinter(TextWriter output, bool json)
{
    private readonly Dictionary<int, DateTime> _lastProgress = new();

    public async Task PrintAsync(JobEvent e)
    {
        if (json)
        {
            await output.WriteLineAsync(JobText.ToJson(e));
            return;
        }

        if (e.Kind == "shard-progress")
        {
            var now = DateTime.UtcNow;
            if (_lastProgress.TryGetValue(e.Shard, out var at) && now - at < TimeSpan.FromSeconds(3))
            {
                return;
            }

            _lastProgress[e.Shard] = now;
        }

        var time = e.At.ToDateTimeOffset().ToLocalTime().ToString("HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture);
        await output.WriteLineAsync($"{time}  {e.Kind,-16} {e.Message}");
    }
}
