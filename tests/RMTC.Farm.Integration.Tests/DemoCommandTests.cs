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
            AssertNamesTheNextCommands(output, manifest.RunId, dir);
            await AssertReadableBySpecAsync(Path.Combine(dir, "model.safetensors"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>
    /// The demo's own coordinator stops with it: the summary says how to get `rmtc` on PATH (the demo may have run through
    /// `dotnet run`) and how to look at the run again, with its id and paths.
    /// </summary>
    private static void AssertNamesTheNextCommands(string output, string runId, string dir)
    {
        var next = output[output.LastIndexOf("\nnext:", StringComparison.Ordinal)..];
        Assert.Contains($"rmtc coordinator --data-dir {Path.Combine(dir, "farm")}", next, StringComparison.Ordinal);
        Assert.Contains($"rmtc lineage show {runId}", next, StringComparison.Ordinal);
        Assert.Contains($"rmtc status {runId}", next, StringComparison.Ordinal);
        Assert.Contains($"http://127.0.0.1:9464/explorer/run.html?id={runId}", next, StringComparison.Ordinal);
        var onPath = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => File.Exists(Path.Combine(d, "rmtc")));
        Assert.True(onPath || next.Contains("farm/scripts/install-rmtc.sh", StringComparison.Ordinal), next);
    }

    /// <summary>
    /// An independent reader written from the safetensors spec in Python's standard library (no package needed):
    /// header length, JSON header, contiguous offsets, data size per dtype and shape.
    /// </summary>
    private static async Task AssertReadableBySpecAsync(string path)
    {
        const string script = """
            import json, struct, sys
            data = open(sys.argv[1], 'rb').read()
            (n,) = struct.unpack('<Q', data[:8])
            header = json.loads(data[8:8 + n].decode('utf-8'))
            assert (8 + n) % 8 == 0, 'header not padded to 8'
            body = data[8 + n:]
            sizes = {'F32': 4, 'F64': 8, 'F16': 2, 'BF16': 2, 'I64': 8, 'I32': 4, 'U8': 1}
            entries = sorted((v['data_offsets'][0], v['data_offsets'][1], k, v) for k, v in header.items() if k != '__metadata__')
            end = 0
            for begin, stop, name, v in entries:
                assert begin == end, f'gap or overlap at {name}'
                count = 1
                for d in v['shape']: count *= d
                assert stop - begin == count * sizes[v['dtype']], f'size of {name}'
                floats = struct.unpack(f'<{count}f', body[begin:stop])
                assert all(x == x and abs(x) != float('inf') for x in floats), f'non-finite in {name}'
                end = stop
            assert end == len(body), 'trailing or missing data'
            print(f'ok {len(entries)} tensors')
            """;
        var info = new System.Diagnostics.ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(script);
        info.ArgumentList.Add(path);
        System.Diagnostics.Process? python;
        try
        {
            python = System.Diagnostics.Process.Start(info);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return; // No python3 on this machine: the C# reader's own tests still hold.
        }

        using (python)
        {
            var output = await python!.StandardOutput.ReadToEndAsync() + await python.StandardError.ReadToEndAsync();
            await python.WaitForExitAsync();
            Assert.True(python.ExitCode == 0, output);
            Assert.StartsWith("ok", output);
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
