using Xunit.Abstractions;
using Xunit.Sdk;

namespace RMTC.Farm.Core.Tests.Fuzz;

/// <summary>The harness itself catches each kind of failure and says how to reproduce it.</summary>
public sealed class FuzzRunnerTests(ITestOutputHelper output)
{
    private static readonly Func<Random, FuzzInput>[] Bytes = [r => new FuzzInput(new byte[r.Next(1, 100)], "zeros")];

    [Fact]
    public void An_exception_of_another_type_fails_with_the_seed_and_the_input()
    {
        var error = Assert.Throws<FailException>(() => FuzzRunner.Run(output, "self-test", 42, Bytes, 10,
            input => input.Bytes.Length < 50 ? true : throw new IndexOutOfRangeException("boom"), e => e is FormatException, 1 << 20, 0));
        Assert.Contains("unexpected System.IndexOutOfRangeException: boom", error.Message, StringComparison.Ordinal);
        Assert.Contains("reproduce: RMTC_FUZZ_SEED=42", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_validation_exception_without_a_message_fails()
    {
        var error = Assert.Throws<FailException>(() => FuzzRunner.Run(output, "self-test", 42, Bytes, 10,
            _ => throw new FormatException(" "), e => e is FormatException, 1 << 20, 0));
        Assert.Contains("FormatException with an empty message", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_allocation_beyond_the_cap_fails()
    {
        var error = Assert.Throws<FailException>(() => FuzzRunner.Run(output, "self-test", 42, Bytes, 10,
            input => new byte[input.Bytes.Length * 10_000].Length > 0, _ => false, 64 << 10, 100));
        Assert.Contains("(cap ", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_input_that_runs_past_the_budget_fails_as_a_hang()
    {
        var error = Assert.Throws<FailException>(() => FuzzRunner.Run(output, "self-test", 42, Bytes, 1,
            _ => { Thread.Sleep(3000); return true; }, _ => false, 1 << 20, 0, TimeSpan.FromMilliseconds(300)));
        Assert.Contains("a hang", error.Message, StringComparison.Ordinal);
    }
}
