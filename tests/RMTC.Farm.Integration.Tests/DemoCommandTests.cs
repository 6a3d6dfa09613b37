using System.Text.Json;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Core.Weights;

namespace RMTC.Farm.Integration.Tests;

/// <summary>The README's first command, run as a newcomer would.</summary>
public sealed class DemoCommandTests
{
    [Fact]
    public async Task Demo_with_three_agents_and_two_rounds_writes_model_and_manifest()
    {
        var dir = Directory.CreateTempSubdirectory("rmtc-demo-").FullName;
        try
        {
            var (code, output) = await RmtcCli.RunAsync(TimeSpan.FromMinutes(4), "demo", "--agents", "3", "--rounds", "2", "--samples", "480", "--out", dir);
            Assert.True(code == 0, output);

            var manifest = RunManifest.FromJson(await File.ReadAllTextAsync(Path.Combine(dir, "run.json")));
            Assert.Equal(RunStates.Succeeded, manifest.State);
            Assert.Equal(2, manifest.Rounds.Count);
            Assert.Equal(3, manifest.Rounds.SelectMany(r => r.Attempts).Select(a => a.AgentId).Distinct().Count());

            var model = Safetensors.ReadFile(Path.Combine(dir, "model.safetensors"));
            Assert.NotEmpty(model.Tensors);
            Assert.Equal(manifest.FinalModelDigest, RMTC.Farm.Core.Digests.Sha256Digest.OfFile(Path.Combine(dir, "model.safetensors")));
            Assert.Contains("succeeded", output);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task Help_explains_every_command()
    {
        var (code, output) = await RmtcCli.RunAsync(TimeSpan.FromMinutes(1), "--help");
        Assert.Equal(0, code);
        foreach (var command in new[] { "coordinator", "agent", "submit", "status", "watch", "demo", "dataset" })
        {
            Assert.Contains(command, output);
        }
    }
}
