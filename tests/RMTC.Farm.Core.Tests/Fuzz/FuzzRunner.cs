using System.Diagnostics;
using System.Globalization;
using System.Text;
using Xunit.Abstractions;

namespace RMTC.Farm.Core.Tests.Fuzz;

/// <summary>One generated input: its bytes (what a file or wire would hold) and how it was made, for the failure report.</summary>
internal sealed record FuzzInput(byte[] Bytes, string How)
{
    public static FuzzInput Text(string text, string how) => new(Encoding.UTF8.GetBytes(text), how);

    /// <summary>The bytes as the parser's caller would decode them (File.ReadAllText is lenient UTF-8).</summary>
    public string AsText() => Encoding.UTF8.GetString(Bytes);
}

/// <summary>
/// Runs a parser over generated inputs and checks the hostile-input guarantee for each: it returns a result or throws
/// its documented validation exception with a non-empty message; nothing else, no hang, and no allocation beyond a cap
/// proportional to the input size.
/// </summary>
/// <remarks>
/// Inputs run one after another on a worker thread (so GC.GetAllocatedBytesForCurrentThread sees only the parser's
/// allocations) while the test thread watches the clock: an input running past the budget fails the test with the seed
/// and the input saved to a file. RMTC_FUZZ_ITERATIONS overrides the input count and RMTC_FUZZ_SEED the seed (a number,
/// or "random"), so a failure reproduces with the seed it prints and a longer run is one variable away.
/// </remarks>
internal static class FuzzRunner
{
    /// <summary>Per-input wall-clock budget: generous for a loaded 2-core machine; it catches hangs, it does not time.</summary>
    public static readonly TimeSpan Budget = TimeSpan.FromSeconds(
        double.TryParse(Environment.GetEnvironmentVariable("RMTC_FUZZ_BUDGET_SECONDS"), NumberStyles.Float, CultureInfo.InvariantCulture, out var s) ? s : 10);

    /// <summary>The input count: <paramref name="fallback"/> unless RMTC_FUZZ_ITERATIONS says otherwise.</summary>
    public static int Iterations(int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable("RMTC_FUZZ_ITERATIONS"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : fallback;

    /// <summary>The run's seed: fixed by default so the unit suite is repeatable; RMTC_FUZZ_SEED=random draws a new one.</summary>
    public static int Seed(int fallback)
    {
        var text = Environment.GetEnvironmentVariable("RMTC_FUZZ_SEED");
        if (string.Equals(text, "random", StringComparison.OrdinalIgnoreCase))
        {
            return Random.Shared.Next();
        }

        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var seed) ? seed : fallback;
    }

    /// <summary>
    /// Generates and checks inputs. <paramref name="generate"/> gets a Random seeded for that one input (so input i of
    /// seed S is the same on every machine); <paramref name="parse"/> returns true for a valid result, false when it
    /// rejected the input itself; it throws for a rejection by exception. Allocation cap: <paramref name="allocBase"/>
    /// + <paramref name="allocPerByte"/> × input bytes.
    /// </summary>
    public static FuzzStats Run(
        ITestOutputHelper output, string parser, int seed, IEnumerable<Func<Random, FuzzInput>> generators, int count,
        Func<FuzzInput, bool> parse, Func<Exception, bool> isValidation, long allocBase, long allocPerByte, TimeSpan? budget = null)
    {
        var inputs = InputsFrom(seed, generators.ToArray(), count);
        return Check(output, parser, seed, inputs, parse, isValidation, allocBase, allocPerByte, budget);
    }

    /// <summary>Checks a fixed list of inputs (e.g. every truncation of a valid file) with the same guarantee.</summary>
    public static FuzzStats Check(
        ITestOutputHelper output, string parser, int seed, IEnumerable<FuzzInput> inputs,
        Func<FuzzInput, bool> parse, Func<Exception, bool> isValidation, long allocBase, long allocPerByte, TimeSpan? budget = null)
    {
        var limit = budget ?? Budget;
        var stats = new FuzzStats(parser);
        long current = -1;
        long startedAt = 0;
        FuzzInput? running = null;
        string? failure = null;
        var done = new ManualResetEventSlim();
        var clock = Stopwatch.StartNew();

        var worker = new Thread(() =>
        {
            try
            {
                long index = 0;
                foreach (var input in inputs)
                {
                    Volatile.Write(ref running, input);
                    Volatile.Write(ref startedAt, clock.ElapsedTicks);
                    Volatile.Write(ref current, index);
                    var before = GC.GetAllocatedBytesForCurrentThread();
                    string? problem = null;
                    try
                    {
                        if (parse(input))
                        {
                            stats.Valid++;
                        }
                        else
                        {
                            stats.Rejected++;
                        }
                    }
                    catch (Exception e) when (isValidation(e))
                    {
                        stats.Rejected++;
                        if (e.Message.Length > stats.LongestMessage)
                        {
                            stats.LongestMessage = e.Message.Length;
                            stats.LongestMessageStart = e.Message[..Math.Min(300, e.Message.Length)];
                        }

                        if (string.IsNullOrWhiteSpace(e.Message))
                        {
                            problem = $"{e.GetType().Name} with an empty message";
                        }
                    }
                    catch (Exception e)
                    {
                        problem = $"unexpected {e.GetType().FullName}: {e.Message}\n{e.StackTrace}";
                    }

                    var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                    var cap = allocBase + (allocPerByte * input.Bytes.LongLength);
                    stats.MaxAllocated = Math.Max(stats.MaxAllocated, allocated);
                    if (input.Bytes.Length >= 1024)
                    {
                        // Small inputs are dominated by fixed costs; the ratio is what matters for large ones.
                        stats.MaxAllocationRatio = Math.Max(stats.MaxAllocationRatio, (double)allocated / input.Bytes.Length);
                    }

                    if (problem is null && allocated > cap)
                    {
                        problem = $"allocated {allocated:N0} bytes for a {input.Bytes.Length:N0}-byte input (cap {cap:N0})";
                    }

                    var ms = (clock.ElapsedTicks - Volatile.Read(ref startedAt)) * 1000.0 / Stopwatch.Frequency;
                    stats.SlowestMs = Math.Max(stats.SlowestMs, ms);
                    stats.Inputs++;
                    stats.Bytes += input.Bytes.Length;
                    if (problem is not null)
                    {
                        failure = Describe(parser, seed, index, input, problem);
                        return;
                    }

                    index++;
                }
            }
            catch (Exception e)
            {
                failure = $"{parser}: the generator failed (seed {seed}): {e}";
            }
            finally
            {
                Volatile.Write(ref current, -2);
                done.Set();
            }
        })
        {
            IsBackground = true,
            Name = "fuzz " + parser,
        };
        worker.Start();

        while (!done.Wait(100))
        {
            var index = Volatile.Read(ref current);
            if (index < 0)
            {
                continue;
            }

            var elapsed = TimeSpan.FromSeconds((clock.ElapsedTicks - Volatile.Read(ref startedAt)) / (double)Stopwatch.Frequency);
            if (elapsed > limit && Volatile.Read(ref current) == index)
            {
                // The worker cannot be stopped; it is a background thread, so the test process can still exit.
                Assert.Fail(Describe(parser, seed, index, Volatile.Read(ref running)!, $"still running after {elapsed.TotalSeconds:F1} s (budget {limit.TotalSeconds} s): a hang"));
            }
        }

        stats.Seconds = clock.Elapsed.TotalSeconds;
        output.WriteLine(stats.ToString());
        if (stats.LongestMessage > 0)
        {
            output.WriteLine("longest error message begins: " + stats.LongestMessageStart);
        }

        if (failure is not null)
        {
            Assert.Fail(failure);
        }

        return stats;
    }

    /// <summary>Input i draws from generator i mod n with a Random seeded from (seed, i): any input can be regenerated alone.</summary>
    private static IEnumerable<FuzzInput> InputsFrom(int seed, Func<Random, FuzzInput>[] generators, int count)
    {
        for (var i = 0; i < count; i++)
        {
            // Not HashCode.Combine: it is seeded per process, and input i of seed S must be the same in every run.
            var random = new Random(unchecked((seed * 1_000_003) + i));
            yield return generators[i % generators.Length](random);
        }
    }

    private static string Describe(string parser, int seed, long index, FuzzInput input, string problem)
    {
        var file = Path.Combine(Path.GetTempPath(), $"rmtc-fuzz-{parser}-seed{seed}-input{index}.bin");
        try
        {
            File.WriteAllBytes(file, input.Bytes);
        }
        catch (IOException)
        {
            file = "(could not be saved)";
        }

        var preview = input.Bytes.Length <= 400 ? Convert.ToBase64String(input.Bytes) : Convert.ToBase64String(input.Bytes, 0, 400) + "...";
        return $"{parser}: input {index} ({input.How}, {input.Bytes.Length} bytes) {problem}\n"
            + $"reproduce: RMTC_FUZZ_SEED={seed} RMTC_FUZZ_ITERATIONS={index + 1} (input saved to {file}; base64 {preview})";
    }
}

/// <summary>What one fuzz run did, printed to the test output.</summary>
internal sealed class FuzzStats(string parser)
{
    public string Parser { get; } = parser;
    public int Inputs { get; set; }
    public int Valid { get; set; }
    public int Rejected { get; set; }
    public long Bytes { get; set; }
    public long MaxAllocated { get; set; }
    public double MaxAllocationRatio { get; set; }
    public double SlowestMs { get; set; }
    public int LongestMessage { get; set; }
    public string LongestMessageStart { get; set; } = "";
    public double Seconds { get; set; }

    public override string ToString() =>
        $"{Parser}: {Inputs} inputs ({Valid} valid, {Rejected} rejected), {Bytes / 1024.0:F0} KiB in {Seconds:F2} s; "
        + $"slowest input {SlowestMs:F1} ms; most allocated {MaxAllocated / 1024.0:F0} KiB; max allocated per input byte (inputs of 1 KiB or more) {MaxAllocationRatio:F1}; longest error message {LongestMessage} characters";
}
