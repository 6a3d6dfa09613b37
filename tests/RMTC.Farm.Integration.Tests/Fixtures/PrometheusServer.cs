using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;

namespace RMTC.Farm.Integration.Tests.Fixtures;

/// <summary>A real Prometheus (Debian's package) scraping one target every second, with its HTTP API on loopback.</summary>
public sealed class PrometheusServer : IDisposable
{
    private readonly Process _process;
    private readonly string _dir;
    private readonly StringBuilder _output = new();

    private PrometheusServer(Process process, string dir, Uri api)
    {
        _process = process;
        _dir = dir;
        Api = api;
    }

    public Uri Api { get; }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public const string NotInstalled = "prometheus is not installed: run farm/scripts/test.sh (it installs it) or apt-get install --no-install-recommends prometheus";

    /// <summary>Starts Prometheus scraping <paramref name="target"/> (host:port, path /metrics) every second.</summary>
    public static async Task<PrometheusServer> StartAsync(string target)
    {
        if (!File.Exists("/usr/bin/prometheus"))
        {
            throw new InvalidOperationException(NotInstalled);
        }

        var dir = Directory.CreateTempSubdirectory("rmtc-prom-").FullName;
        var config = Path.Combine(dir, "prometheus.yml");
        await File.WriteAllTextAsync(config, $"""
            global:
              scrape_interval: 1s
            scrape_configs:
              - job_name: rmtc-coordinator
                static_configs:
                  - targets: ["{target}"]
            """);
        var port = CoordinatorProcess.FreePort();
        var info = new ProcessStartInfo("/usr/bin/prometheus") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { $"--config.file={config}", $"--storage.tsdb.path={Path.Combine(dir, "data")}", $"--web.listen-address=127.0.0.1:{port}" })
        {
            info.ArgumentList.Add(a);
        }

        var server = new PrometheusServer(Process.Start(info)!, dir, new Uri($"http://127.0.0.1:{port}/"));
        server._process.OutputDataReceived += (_, e) => server.Append(e.Data);
        server._process.ErrorDataReceived += (_, e) => server.Append(e.Data);
        server._process.BeginOutputReadLine();
        server._process.BeginErrorReadLine();
        using var http = new HttpClient();
        await FarmFixture.WaitUntilAsync(() =>
        {
            try
            {
                return http.GetAsync(new Uri(server.Api, "-/ready")).GetAwaiter().GetResult().IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return server._process.HasExited;
            }
        }, TimeSpan.FromSeconds(60), () => "prometheus did not become ready:\n" + server.Output);
        return server;
    }

    /// <summary>Runs an instant query and returns the result vector (each item: metric labels and value).</summary>
    public async Task<JsonArray> QueryAsync(string promql)
    {
        using var http = new HttpClient();
        var json = await http.GetStringAsync(new Uri(Api, "api/v1/query?query=" + Uri.EscapeDataString(promql)));
        return JsonNode.Parse(json)!["data"]!["result"]!.AsArray();
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }

        _process.Dispose();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
