using System.Diagnostics;
using System.Runtime.InteropServices;
using RMTC.Farm.Core.Merging;
using RMTC.Farm.Core.Weights;

namespace RMTC.Farm.Benchmarks;

/// <summary>
/// Streaming FedAvg as the coordinator runs it: K results of a P-parameter float32 model, each read from its stored
/// file (as uploads land in the artifact store) and folded on arrival, then the average taken. Measured against this
/// machine's copy bandwidth for the same bytes (<see cref="Span{T}.CopyTo"/>), and its peak memory against the model size.
/// </summary>
internal static class MergeBenchmark
{
    private const int TensorsPerModel = 8;
    private const int DistinctResults = 4;

    public static void Run(ResultTable table, long parameters, int[] ks)
    {
        long modelBytes = parameters * sizeof(float);
        Console.WriteLine($"merge: {parameters / 1e6:N0}M-parameter float32 model ({modelBytes / 1e6:N0} MB), K = {string.Join(", ", ks)}");
        var dir = Directory.CreateTempSubdirectory("rmtc-merge-bench-").FullName;
        try
        {
            var files = new string[DistinctResults];
            for (var i = 0; i < files.Length; i++)
            {
                files[i] = Path.Combine(dir, $"result-{i}.safetensors");
                WriteResult(files[i], parameters, seed: i + 1);
            }

            double copy = CopyBandwidth(modelBytes);
            Console.WriteLine($"  copy bandwidth (Span.CopyTo, {modelBytes / 1e6:N0} MB): {copy / 1e9:F2} GB/s");

            foreach (var k in ks)
            {
                // A child process per K, so its peak resident memory is the merge's alone (not this process's buffers).
                var (seconds, firstSeconds, peak) = RunChild(k, files);
                var rate = k * (double)modelBytes / seconds;
                Console.WriteLine($"  K = {k}: {seconds:F3} s ({rate / 1e9:F2} GB/s of results folded; a first round on fresh pages took {firstSeconds:F3} s for 2 results), peak {peak / 1e6:N0} MB");
                table.Add($"FedAvg merge K={k} ({modelBytes / 1e6:N0} MB model)", rate / 1e9, "GB/s", copy / 1e9, "Span.CopyTo of the same bytes", ">= 0.6");
                table.Add($"  merge peak memory K={k}", peak / 1e6, "MB", 2.0 * modelBytes / 1e6, "2 x model size", "< 2 x model (ratio > 1)", higherIsBetter: false);
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>
    /// The child's side: a first round of 2 results on fresh arrays (as a run's first round), then three measured rounds of
    /// K results (the best counts), each reusing the previous round's arrays, as every later round does. Results were checked finite on arrival
    /// (the upload path does that while the bytes stream in), so each is folded in one mapped pass.
    /// Prints "seconds firstSeconds peakBytes".
    /// </summary>
    public static int Child(string[] args)
    {
        var k = int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture);
        var files = args[2..];
        var baseline = ProcessMemory.ResetPeak();
        var template = ReadTemplate(files[0]);
        var sw = Stopwatch.StartNew();
        var first = Merge(template, files, 2, recycle: null);
        var firstSeconds = sw.Elapsed.TotalSeconds;
        // Best of three rounds, as the copy bandwidth is the best of five: each later round reuses the last one's arrays.
        var seconds = double.MaxValue;
        var average = first;
        for (var round = 0; round < 3; round++)
        {
            sw.Restart();
            average = Merge(template, files, k, average);
            seconds = Math.Min(seconds, sw.Elapsed.TotalSeconds);
        }

        GC.KeepAlive(average);
        Console.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{seconds} {firstSeconds} {ProcessMemory.Peak - baseline}"));
        return 0;
    }

    private static (double Seconds, double FirstSeconds, long Peak) RunChild(int k, string[] files)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, UseShellExecute = false };
        if (!Environment.ProcessPath!.EndsWith("RMTC.Farm.Benchmarks", StringComparison.Ordinal))
        {
            start.ArgumentList.Add(typeof(MergeBenchmark).Assembly.Location);
        }

        start.ArgumentList.Add("merge-child");
        start.ArgumentList.Add(k.ToString(System.Globalization.CultureInfo.InvariantCulture));
        foreach (var f in files)
        {
            start.ArgumentList.Add(f);
        }

        using var child = Process.Start(start)!;
        var output = child.StandardOutput.ReadToEnd().Trim().Split('\n')[^1].Split(' ');
        child.WaitForExit();
        if (child.ExitCode != 0 || output.Length != 3)
        {
            throw new InvalidOperationException($"merge child for K={k} failed (exit {child.ExitCode}): {string.Join(' ', output)}");
        }

        var inv = System.Globalization.CultureInfo.InvariantCulture;
        return (double.Parse(output[0], inv), double.Parse(output[1], inv), long.Parse(output[2], inv));
    }

    private static IReadOnlyList<NamedTensor> Merge(SafetensorsHeader template, string[] files, int k, IReadOnlyList<NamedTensor>? recycle)
    {
        var accumulator = new FedAvgAccumulator(template, recycle);
        for (var i = 0; i < k; i++)
        {
            accumulator.AddPrechecked(files[i % files.Length], 100 + i);
        }

        return accumulator.Finish();
    }

    /// <summary>Bytes per second of <see cref="Span{T}.CopyTo"/> between two warm buffers of <paramref name="bytes"/>, best of five.</summary>
    private static double CopyBandwidth(long bytes)
    {
        var source = new float[bytes / sizeof(float)];
        var target = new float[bytes / sizeof(float)];
        source.AsSpan().Fill(1.5f);
        target.AsSpan().Clear();
        double best = double.MaxValue;
        for (var i = 0; i < 5; i++)
        {
            var sw = Stopwatch.StartNew();
            source.AsSpan().CopyTo(target);
            best = Math.Min(best, sw.Elapsed.TotalSeconds);
        }

        return bytes / best;
    }

    private static SafetensorsHeader ReadTemplate(string path)
    {
        using var file = File.OpenRead(path);
        return Safetensors.ReadHeader(file, file.Length);
    }

    /// <summary>A result file of <paramref name="parameters"/> finite floats in <see cref="TensorsPerModel"/> tensors.</summary>
    private static void WriteResult(string path, long parameters, int seed)
    {
        var random = new Random(seed);
        var tensors = new NamedTensor[TensorsPerModel];
        long left = parameters;
        for (var t = 0; t < TensorsPerModel; t++)
        {
            long n = t == TensorsPerModel - 1 ? left : parameters / TensorsPerModel;
            left -= n;
            var data = new byte[n * sizeof(float)];
            var values = MemoryMarshal.Cast<byte, float>(data.AsSpan());
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = (float)(random.NextDouble() - 0.5);
            }

            tensors[t] = new NamedTensor($"layer{t}.weight", TensorDType.F32, [n], data);
        }

        Safetensors.WriteFile(path, tensors);
    }
}
