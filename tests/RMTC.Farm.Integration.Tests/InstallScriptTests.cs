namespace RMTC.Farm.Integration.Tests;

/// <summary>farm/scripts/install-rmtc.sh as a newcomer runs it: publish into a prefix, then use the installed `rmtc`.</summary>
public sealed class InstallScriptTests : IDisposable
{
    private readonly string _prefix = Directory.CreateTempSubdirectory("rmtc-install-").FullName;

    public void Dispose() => Directory.Delete(_prefix, recursive: true);

    [Fact]
    public async Task The_installed_rmtc_runs_from_its_prefix_and_trains()
    {
        var script = Path.Combine(FarmOperationsTests.RepoRoot(), "farm", "scripts", "install-rmtc.sh");
        // A publish of the CLI with libtorch is slow on a loaded 2-core machine: minutes, not seconds.
        var (code, output) = await RmtcCli.RunProcessAsync("bash", [script, "--prefix", _prefix], TimeSpan.FromMinutes(15));
        Assert.True(code == 0, output);
        Assert.Contains($"installed: {_prefix}/bin/rmtc", output, StringComparison.Ordinal);

        var rmtc = Path.Combine(_prefix, "bin", "rmtc");
        (code, output) = await RmtcCli.RunProcessAsync(rmtc, ["--help"], TimeSpan.FromMinutes(1));
        Assert.True(code == 0, output);
        Assert.Contains("rmtc demo", output, StringComparison.Ordinal);

        (code, output) = await RmtcCli.RunProcessAsync(rmtc, ["stauts"], TimeSpan.FromMinutes(1));
        Assert.True(code == 2, output);
        Assert.Contains("Did you mean 'status'?", output, StringComparison.Ordinal);

        // The published TorchSharp native library loads (the compat step ran on the publish) and agents start as the
        // installed apphost: a one-round demo succeeds.
        var demo = Path.Combine(_prefix, "demo");
        (code, output) = await RmtcCli.RunProcessAsync(rmtc, ["demo", "--agents", "1", "--rounds", "1", "--samples", "32", "--out", demo], TimeSpan.FromMinutes(4));
        Assert.True(code == 0, output);
        Assert.True(File.Exists(Path.Combine(demo, "model.safetensors")), output);
    }
}
