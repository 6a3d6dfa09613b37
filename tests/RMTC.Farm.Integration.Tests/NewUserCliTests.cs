namespace RMTC.Farm.Integration.Tests;

/// <summary>A newcomer's first minutes with `rmtc`, run as a process: typos, help, a missing dataset, a file that is not a spec.</summary>
public sealed class NewUserCliTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    private readonly string _dir = Directory.CreateTempSubdirectory("rmtc-newuser-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(new[] { "stauts" }, "rmtc: unknown command 'stauts'. Did you mean 'status'?  (rmtc --help lists the commands)")]
    [InlineData(new[] { "dataset", "synt" }, "rmtc dataset: unknown command 'synt'. Did you mean 'synth'?")]
    [InlineData(new[] { "status", "--jsn" }, "rmtc status: unknown option '--jsn'. Did you mean '--json'?  (rmtc status --help lists the options)")]
    [InlineData(new[] { "coordinator", "--data", "/tmp/x" }, "rmtc coordinator: unknown option '--data'. Did you mean '--data-dir'?")]
    [InlineData(new[] { "demo", "--agnets", "2" }, "rmtc demo: unknown option '--agnets'. Did you mean '--agents'?")]
    [InlineData(new[] { "submit" }, "rmtc submit: Required argument 'JOB' missing")]
    public async Task A_mistyped_command_or_option_gets_one_line_with_the_suggestion_and_exit_2(string[] args, string expected)
    {
        var (code, output) = await RmtcCli.RunAsync(Timeout, args);
        Assert.True(code == 2, $"exit {code}: {output}");
        Assert.Contains(expected, output, StringComparison.Ordinal);
        // One line, not the whole help after it.
        Assert.DoesNotContain("Usage:", output, StringComparison.Ordinal);
        Assert.Single(output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task An_option_like_word_is_an_argument_after_a_double_dash()
    {
        // `rmtc status -- --x` asks for a job named "--x": it reaches the coordinator (none here), not the usage check.
        var (code, output) = await RmtcCli.RunAsync(Timeout, "status", "--coordinator", "http://127.0.0.1:1", "--", "--x");
        Assert.True(code == 1, $"exit {code}: {output}");
        Assert.Contains("no coordinator answers", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_shows_the_optional_job_of_status_in_brackets()
    {
        var (code, output) = await RmtcCli.RunAsync(Timeout, "status", "--help");
        Assert.Equal(0, code);
        Assert.Contains("rmtc status [JOB] [options]", output, StringComparison.Ordinal);
        Assert.Contains("  [JOB]  Job id", output, StringComparison.Ordinal);

        (code, output) = await RmtcCli.RunAsync(Timeout, "--help");
        Assert.Equal(0, code);
        Assert.Contains("  status [JOB] ", output, StringComparison.Ordinal);
        // A required argument keeps its angle brackets.
        Assert.Contains("  watch <JOB> ", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_dataset_is_refused_with_the_commands_that_make_it()
    {
        await using var farm = await FarmFixture.StartAsync();
        var spec = Path.Combine(_dir, "job.yaml");
        await File.WriteAllTextAsync(spec, "name: first-try\nrecipe: denoiser\ndataset: plates\n");
        var missing = Path.Combine(_dir, "plates");

        var (code, output) = await RmtcCli.RunAsync(Timeout, "submit", spec, "--coordinator", farm.Address);

        Assert.True(code == 2, $"exit {code}: {output}");
        Assert.Contains($"dataset directory {missing} does not exist", output, StringComparison.Ordinal);
        Assert.Contains($"`rmtc dataset synth --recipe denoiser --out {missing}`", output, StringComparison.Ordinal);
        Assert.Contains($"`rmtc dataset import images SOURCE_DIR --out {missing} --licence SPDX-ID`", output, StringComparison.Ordinal);
        Assert.Contains($"`rmtc dataset import idx SOURCE_DIR --out {missing} --licence SPDX-ID`", output, StringComparison.Ordinal);

        // The suggested command, run as printed, makes a dataset the same spec then accepts.
        (code, output) = await RmtcCli.RunAsync(Timeout, "dataset", "synth", "--recipe", "denoiser", "--out", missing, "--samples", "16");
        Assert.True(code == 0, output);
        (code, output) = await RmtcCli.RunAsync(Timeout, "submit", spec, "--coordinator", farm.Address);
        Assert.True(code == 0, $"exit {code}: {output}");
    }

    [Fact]
    public async Task A_file_that_is_not_a_yaml_spec_is_refused_in_words_a_wrangler_understands()
    {
        await using var farm = await FarmFixture.StartAsync();
        var binary = Path.Combine(_dir, "render.exr");
        await File.WriteAllBytesAsync(binary, [0x76, 0x2f, 0x31, 0x01, 0x02, 0x00, 0x00, 0x00, 0x63, 0x68, 0x61, 0x6e]);
        var json = Path.Combine(_dir, "job.json");
        await File.WriteAllTextAsync(json, "{\"name\": \"a\", \"recipe\": \"denoiser\"\n \"dataset\": \"d\"}\n");

        var (code, output) = await RmtcCli.RunAsync(Timeout, "submit", binary, "--coordinator", farm.Address);
        Assert.True(code == 2, $"exit {code}: {output}");
        Assert.Contains("render.exr:1: not a text file: control character U+0001 at column 4, as in binary data.", output, StringComparison.Ordinal);
        Assert.Contains("A job spec is a YAML mapping of `key: value` lines", output, StringComparison.Ordinal);
        Assert.Contains("farm/jobs/", output, StringComparison.Ordinal);

        (code, output) = await RmtcCli.RunAsync(Timeout, "submit", json, "--coordinator", farm.Address);
        Assert.True(code == 2, $"exit {code}: {output}");
        Assert.Contains("job.json:2: not valid YAML:", output, StringComparison.Ordinal);
        Assert.Contains("A job spec is a YAML mapping", output, StringComparison.Ordinal);
        Assert.Contains("JSON is read as YAML, so check its brackets, commas and quotes", output, StringComparison.Ordinal);
        Assert.DoesNotContain("no coordinator answers", output, StringComparison.Ordinal);
    }
}
