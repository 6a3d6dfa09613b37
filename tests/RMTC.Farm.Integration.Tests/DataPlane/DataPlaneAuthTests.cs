using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using RMTC.Farm.Agent.Execution.Transfers;
using RMTC.Farm.Coordinator.DataPlane;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Integration.Tests.Security;
using RMTC.Farm.Protos.Client;
using RMTC.Farm.Protos.DataPlane;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Integration.Tests.DataPlane;

/// <summary>The data plane asks what the gRPC AgentService asks: the farm token, or a client certificate of the agents' CA, over TLS.</summary>
public sealed class DataPlaneAuthTests
{
    [Fact]
    public async Task Without_the_farm_token_the_data_plane_refuses_every_method_and_with_it_answers_over_tls()
    {
        await using var farm = await SecureFarm.StartAsync();
        var stored = farm.App.Services.GetRequiredService<IArtifactStore>().Put("weights bytes"u8, ArtifactKind.Weights);
        var plane = farm.App.DataPlaneAddress()!;
        Assert.Equal("https", plane.Scheme);

        foreach (var token in new[] { null, "wrong-farm-token-0123456789", SecureFarm.AliceToken })
        {
            using var http = Client(plane, new FarmCredentials(token, farm.Certificates.CaFile));
            using var get = await http.GetAsync(DataPlaneWire.ArtifactPath(stored.Digest));
            Assert.Equal(HttpStatusCode.Unauthorized, get.StatusCode);
            var reason = JsonSerializer.Deserialize<DataPlaneAnswer>(await get.Content.ReadAsStringAsync())!.Reason;
            Assert.Contains(token is null ? "requires the farm token from agents" : "is not this farm's token", reason);

            using var put = new HttpRequestMessage(HttpMethod.Put, DataPlaneWire.ArtifactPath(stored.Digest)) { Content = new ByteArrayContent("weights bytes"u8.ToArray()) };
            put.Headers.Add(DataPlaneWire.UploadHeader, JsonSerializer.Serialize(new UploadMetadata { LeaseId = "l", AgentId = "intruder" }));
            using var refused = await http.SendAsync(put);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);

            using var head = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, DataPlaneWire.ArtifactPath(stored.Digest)));
            Assert.Equal(HttpStatusCode.Unauthorized, head.StatusCode);
        }

        using (var agent = Client(plane, new FarmCredentials(SecureFarm.FarmToken, farm.Certificates.CaFile)))
        {
            Assert.Equal("weights bytes"u8.ToArray(), await agent.GetByteArrayAsync(DataPlaneWire.ArtifactPath(stored.Digest)));
        }

        // The agent's own client, as an agent builds it from its credentials.
        using var client = new DataPlaneClient(plane, new FarmCredentials(SecureFarm.FarmToken, farm.Certificates.CaFile));
        using var sink = new MemoryStream();
        await client.CopyToAsync(stored.Digest, ArtifactType.Weights, 0, sink, CancellationToken.None);
        Assert.Equal("weights bytes"u8.ToArray(), sink.ToArray());

        // Not trusting the farm CA: TLS itself refuses.
        using var untrusting = Client(plane, new FarmCredentials(SecureFarm.FarmToken, null));
        await Assert.ThrowsAsync<HttpRequestException>(() => untrusting.GetAsync(DataPlaneWire.ArtifactPath(stored.Digest)));
    }

    [Fact]
    public async Task With_mutual_tls_an_agent_certificate_of_the_farm_ca_is_enough()
    {
        await using var farm = await SecureFarm.StartAsync(new Dictionary<string, string?> { ["Coordinator:AgentTokenFile"] = null, ["Coordinator:Tls:AgentCaPath"] = SecureFarm.CaPlaceholder });
        var stored = farm.App.Services.GetRequiredService<IArtifactStore>().Put("mtls bytes"u8, ArtifactKind.Weights);
        var plane = farm.App.DataPlaneAddress()!;

        using var withCertificate = Client(plane, new FarmCredentials(null, farm.Certificates.CaFile, farm.Certificates.AgentCertificateFile, farm.Certificates.AgentKeyFile));
        Assert.Equal("mtls bytes"u8.ToArray(), await withCertificate.GetByteArrayAsync(DataPlaneWire.ArtifactPath(stored.Digest)));

        using var without = Client(plane, new FarmCredentials(null, farm.Certificates.CaFile));
        using var refused = await without.GetAsync(DataPlaneWire.ArtifactPath(stored.Digest));
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Contains("client certificate of the farm's agent CA", await refused.Content.ReadAsStringAsync());
    }

    private static HttpClient Client(Uri plane, FarmCredentials credentials) =>
        new(credentials.Apply(new SocketsHttpHandler())) { BaseAddress = plane };
}
