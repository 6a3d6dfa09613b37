using System.Globalization;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using RMTC.Farm.Coordinator.Hosting;
using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Protos.Client;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Integration.Tests.Security;

/// <summary>
/// A coordinator with everything on: TLS from a test farm CA, a farm token for agents, wrangler tokens (alice: show
/// alpha, bob: show beta, root: admin) and datasets confined to <see cref="Datasets"/>. Real Kestrel on 127.0.0.1:0.
/// </summary>
public sealed class SecureFarm : IAsyncDisposable
{
    public const string FarmToken = "farm-token-0123456789abcdef";
    public const string AliceToken = "alice-token-0123456789abcdef";
    public const string BobToken = "bob-token-0123456789abcdef";
    public const string AdminToken = "root-token-0123456789abcdef";

    /// <summary>An override value replaced by the farm CA's file.</summary>
    public const string CaPlaceholder = "{farm-ca}";

    private readonly List<GrpcChannel> _channels = new();
    private readonly List<AgentProcess> _agents = new();

    private SecureFarm(WebApplication app, string root, TestCertificates certificates)
    {
        App = app;
        Root = root;
        Certificates = certificates;
        Address = app.BoundAddress().ToString().TrimEnd('/');
    }

    public WebApplication App { get; }
    public string Root { get; }
    public string Datasets => Path.Combine(Root, "datasets");
    public TestCertificates Certificates { get; }
    public string Address { get; }
    public string FarmTokenFile => Path.Combine(Root, "secrets", "farm-token");
    public FarmScheduler Scheduler => App.Services.GetRequiredService<FarmScheduler>();

    public static async Task<SecureFarm> StartAsync(IDictionary<string, string?>? overrides = null)
    {
        var root = Directory.CreateTempSubdirectory("rmtc-sec-").FullName;
        Directory.CreateDirectory(Path.Combine(root, "datasets"));
        Directory.CreateDirectory(Path.Combine(root, "secrets"));
        var certificates = TestCertificates.Create(Path.Combine(root, "secrets"));
        await File.WriteAllTextAsync(Path.Combine(root, "secrets", "farm-token"), FarmToken + "\n");
        await File.WriteAllTextAsync(Path.Combine(root, "secrets", "wranglers.json"), $$"""
            {
              "tokens": [
                { "token": "{{AliceToken}}", "user": "alice", "role": "wrangler", "shows": ["alpha"] },
                { "token": "{{BobToken}}", "user": "bob", "role": "wrangler", "shows": ["beta"] },
                { "token": "{{AdminToken}}", "user": "root", "role": "admin" }
              ]
            }
            """);
        var settings = Settings(root, certificates);
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>())
        {
            settings[key] = value == CaPlaceholder ? certificates.CaFile : value;
        }

        var app = CoordinatorHost.Create(c => c.AddInMemoryCollection(settings));
        await app.StartAsync();
        return new SecureFarm(app, root, certificates);
    }

    public static Dictionary<string, string?> Settings(string root, TestCertificates certificates) => new()
    {
        ["Coordinator:DataDirectory"] = Path.Combine(root, "farm"),
        ["Coordinator:Port"] = "0",
        ["Coordinator:MetricsPort"] = "0",
        ["Coordinator:OpenCuePort"] = "-1",
        ["Coordinator:LeaseTimeoutMs"] = "5000",
        ["Coordinator:HeartbeatIntervalMs"] = "250",
        ["Coordinator:Tls:CertificatePath"] = certificates.CertificateFile,
        ["Coordinator:Tls:KeyPath"] = certificates.KeyFile,
        ["Coordinator:AgentTokenFile"] = Path.Combine(root, "secrets", "farm-token"),
        ["Coordinator:WranglerTokensFile"] = Path.Combine(root, "secrets", "wranglers.json"),
        ["Coordinator:DatasetRoots:0"] = Path.Combine(root, "datasets"),
        ["Logging:LogLevel:Default"] = "Warning",
    };

    /// <summary>A channel presenting <paramref name="token"/> (none when null), trusting the farm CA unless told otherwise.</summary>
    public GrpcChannel Channel(string? token, bool trustFarmCa = true, string? caFile = null) =>
        Channel(new FarmCredentials(token, caFile ?? (trustFarmCa ? Certificates.CaFile : null)));

    /// <summary>A channel with these credentials.</summary>
    public GrpcChannel Channel(FarmCredentials credentials)
    {
        var channel = GrpcChannel.ForAddress(Address, new GrpcChannelOptions { HttpHandler = credentials.Apply(new SocketsHttpHandler()) });
        _channels.Add(channel);
        return channel;
    }

    public JobService.JobServiceClient Jobs(string? token) => new(Channel(token));

    /// <summary>A small classifier dataset under the dataset root.</summary>
    public string Synthesize(int samples = 40)
    {
        var dir = Path.Combine(Datasets, $"classifier-{samples.ToString(CultureInfo.InvariantCulture)}");
        if (!Directory.Exists(dir))
        {
            RMTC.Farm.Training.Datasets.DatasetSynthesizer.Synthesize("classifier", dir, samples, 3);
        }

        return dir;
    }

    public static string Spec(string name, string dataset, string? show, int shards = 1) =>
        $"""
        name: {name}
        recipe: classifier
        dataset: {dataset}
        shards: {shards.ToString(CultureInfo.InvariantCulture)}
        rounds: 1
        local: {"{"} epochs: 1, batch_size: 16, learning_rate: 0.05 {"}"}
        {(show is null ? "" : $"show: {show}")}
        """;

    public static SubmitJobRequest Submit(string yaml, string submittedBy = "") =>
        new() { SpecYaml = yaml, SourceName = "test.yaml", BaseDirectory = "/", SubmittedBy = submittedBy };

    /// <summary>Starts a real `rmtc agent` process presenting the farm token from a file, trusting the farm CA.</summary>
    public AgentProcess StartAgent(string id)
    {
        var agent = AgentProcess.Start(Address, id, Path.Combine(Root, "agents", id), new Dictionary<string, string>
        {
            ["RMTC_Agent__TokenFile"] = FarmTokenFile,
            ["RMTC_CA_FILE"] = Certificates.CaFile,
        });
        _agents.Add(agent);
        return agent;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var agent in _agents)
        {
            agent.Dispose();
        }

        foreach (var channel in _channels)
        {
            channel.Dispose();
        }

        await App.StopAsync();
        await App.DisposeAsync();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
