using System.Text.Json;

namespace RMTC.Farm.Integration.Tests;

/// <summary>`rmtc dataset import` and `rmtc train --local` as a user runs them.</summary>
public sealed class RealDataCliTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "rmtc-realdata-cli-" + Guid.NewGuid().ToString("N"));

    public RealDataCliTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static byte[] Idx(int[] dims, Func<int, byte> value)
    {
        var count = dims.Aggregate(1, (a, b) => a * b);
        var bytes = new byte[4 + 4 * dims.Length + count];
        bytes[2] = 0x08;
        bytes[3] = (byte)dims.Length;
        for (var i = 0; i < dims.Length; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + 4 * i), dims[i]);
        }

        for (var i = 0; i < count; i++)
        {
            bytes[4 + 4 * dims.Length + i] = value(i);
        }

        return bytes;
    }

    [Fact]
    public async Task Imported_idx_data_trains_locally_with_an_evaluation_each_round()
    {
        var src = Path.Combine(_dir, "src");
        Directory.CreateDirectory(src);
        // Two classes a convnet can tell apart: bright images (label 1) and dark ones (label 0).
        File.WriteAllBytes(Path.Combine(src, "train-labels-idx1-ubyte"), Idx([40], i => (byte)(i % 2)));
        File.WriteAllBytes(Path.Combine(src, "train-images-idx3-ubyte"), Idx([40, 8, 8], i => (byte)((i / 64) % 2 == 1 ? 200 + i % 50 : i % 50)));
        File.WriteAllBytes(Path.Combine(src, "t10k-labels-idx1-ubyte"), Idx([10], i => (byte)(i % 2)));
        File.WriteAllBytes(Path.Combine(src, "t10k-images-idx3-ubyte"), Idx([10, 8, 8], i => (byte)((i / 64) % 2 == 1 ? 210 + i % 40 : 5 + i % 40)));
        var data = Path.Combine(_dir, "data");

        var (code, output) = await RmtcCli.RunAsync(TimeSpan.FromMinutes(2), "dataset", "import", "idx", src, "--out", data,
            "--name", "bright-dark", "--licence", "CC0-1.0", "--owner", "tests", "--allow", "cawg.ai_training", "--classes", "dark,bright");
        Assert.True(code == 0, output);
        Assert.Contains("wrote 40 train, 10 test samples", output);

        var spec = Path.Combine(_dir, "job.yaml");
        File.WriteAllText(spec, $"name: local\nrecipe: convnet\ndataset: {data}\nshards: 2\nrounds: 2\nlocal: {{ epochs: 2, batch_size: 8, learning_rate: 0.01 }}\n");
        (code, output) = await RmtcCli.RunAsync(TimeSpan.FromMinutes(3), "train", "--local", spec, "--json", "--threads", "1");
        Assert.True(code == 0, output);
        using var json = JsonDocument.Parse(output);
        Assert.Equal(40, json.RootElement.GetProperty("trainSamples").GetInt32());
        Assert.Equal("test", json.RootElement.GetProperty("evaluationSplit").GetString());
        var rounds = json.RootElement.GetProperty("rounds").EnumerateArray().ToList();
        Assert.Equal(2, rounds.Count);
        Assert.All(rounds, r => Assert.Equal(10, r.GetProperty("evaluation").GetProperty("samples").GetInt32()));
        Assert.Equal(1.0, rounds[^1].GetProperty("evaluation").GetProperty("accuracy").GetDouble());
    }

    [Fact]
    public async Task A_wrong_idx_file_is_refused_with_exit_code_2_and_the_file_named()
    {
        var src = Path.Combine(_dir, "src");
        Directory.CreateDirectory(src);
        File.WriteAllBytes(Path.Combine(src, "train-images-idx3-ubyte"), Idx([3], i => 0));
        File.WriteAllBytes(Path.Combine(src, "train-labels-idx1-ubyte"), Idx([3], i => 0));

        var (code, output) = await RmtcCli.RunAsync(TimeSpan.FromMinutes(1), "dataset", "import", "idx", src, "--out", Path.Combine(_dir, "data"));

        Assert.Equal(2, code);
        Assert.Contains("train-images-idx3-ubyte: wrong magic number 0x00000801", output);
    }
}
