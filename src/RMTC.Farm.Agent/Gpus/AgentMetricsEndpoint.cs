using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RMTC.Farm.Agent.Hosting;
using RMTC.Farm.Agent.Weights;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Agent.Gpus;

/// <summary>
/// The agent's own <c>/metrics</c> (off unless <see cref="AgentOptions.MetricsPort"/> is set): its latest GPU samples
/// with the DCGM exporter's names and labels, for farms that scrape nodes directly. Serves cached samples only.
/// </summary>
public sealed partial class AgentMetricsEndpoint(GpuSampling sampling, TransferCounters transfers, IOptions<AgentOptions> options, ILogger<AgentMetricsEndpoint> log) : BackgroundService
{
    /// <summary>The bound address once listening (tests read it), else null.</summary>
    public Uri? Address { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.Value.MetricsPort is not { } port)
        {
            return;
        }

        using var listener = new HttpListener();
        var prefix = $"http://{options.Value.MetricsAddress}:{port}/";
        listener.Prefixes.Add(prefix);
        listener.Start();
        Address = new Uri(prefix + "metrics");
        LogListening(Address);
        await using var stop = stoppingToken.Register(listener.Stop);
        while (!stoppingToken.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
            {
                break;
            }

            using var response = context.Response;
            if (context.Request.Url?.AbsolutePath != "/metrics")
            {
                response.StatusCode = 404;
                continue;
            }

            var body = Encoding.UTF8.GetBytes(Render(sampling.Latest, Environment.MachineName) + Render(transfers));
            response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await response.OutputStream.WriteAsync(body, stoppingToken);
        }
    }

    /// <summary>Prometheus text exposition of the samples; missing readings produce no line.</summary>
    public static string Render(IReadOnlyList<GpuSample> gpus, string hostname)
    {
        var sb = new StringBuilder();
        foreach (var (name, help, value) in DcgmFields.All)
        {
            sb.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
            sb.Append("# TYPE ").Append(name).Append(" gauge\n");
            foreach (var g in gpus)
            {
                if (value(g) is { } v)
                {
                    var labels = string.Join(',', DcgmFields.Labels(g, hostname).Select(l => $"{l.Key}=\"{Escape(l.Value)}\""));
                    sb.Append(CultureInfo.InvariantCulture, $"{name}{{{labels}}} {v}\n");
                }
            }
        }

        return sb.ToString();
    }

    /// <summary>Prometheus text exposition of what the agent's fetches and its peer data plane moved (counters since start).</summary>
    public static string Render(TransferCounters t)
    {
        var sb = new StringBuilder();
        sb.Append("# HELP rmtc_agent_fetched_bytes_total Bytes of weights and model files fetched, by source (peer agent or coordinator).\n");
        sb.Append("# TYPE rmtc_agent_fetched_bytes_total counter\n");
        sb.Append(CultureInfo.InvariantCulture, $"rmtc_agent_fetched_bytes_total{{source=\"peer\"}} {t.FromPeers}\n");
        sb.Append(CultureInfo.InvariantCulture, $"rmtc_agent_fetched_bytes_total{{source=\"coordinator\"}} {t.FromCoordinator}\n");
        sb.Append("# HELP rmtc_agent_peer_refusals_total Peers given up (down, silent, without the artifact, or serving bytes of another digest).\n");
        sb.Append("# TYPE rmtc_agent_peer_refusals_total counter\n");
        sb.Append(CultureInfo.InvariantCulture, $"rmtc_agent_peer_refusals_total {t.PeerRefusals}\n");
        sb.Append("# HELP rmtc_agent_peer_served_bytes_total Bytes of this agent's cache served to peer agents.\n");
        sb.Append("# TYPE rmtc_agent_peer_served_bytes_total counter\n");
        sb.Append(CultureInfo.InvariantCulture, $"rmtc_agent_peer_served_bytes_total {t.ServedToPeers}\n");
        return sb.ToString();
    }

    private static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    [LoggerMessage(Level = LogLevel.Information, Message = "Agent metrics at {Address}")]
    private partial void LogListening(Uri address);
}
