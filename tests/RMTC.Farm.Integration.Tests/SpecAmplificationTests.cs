using System.Globalization;
using Grpc.Core;
using RMTC.Farm.Benchmarks;
using Grpc.Net.Client;
using RMTC.Farm.Core.Jobs;
using RMTC.Farm.Core.Tests.Fuzz;
using RMTC.Farm.Protos.V1;
using Xunit.Abstractions;

namespace RMTC.Farm.Integration.Tests;

/// <summary>
/// Hostile specs against a real coordinator process: small specs that expand to gigabytes once read (YAML aliases,
/// wide lists, floods of unknown keys) must be refused without the coordinator's memory following the expansion, and
/// refusals must reach the CLI as refusals, never as "no coordinator answers".
/// </summary>
public sealed class SpecAmplificationTests(ITestOutputHelper output)
{
    /// <summary>Each amplifier's size: the issue's secured coordinator grew from 190 MB to 663 MB on a 28 KB spec.</summary>
    private const int AmplifierBytes = 28 * 1024;

    /// <summary>Growth allowed over the whole test: a constant (the runtime's own heaps, gRPC buffers) plus a small multiple of what was sent.</summary>
    private const long GrowthBase = 64L << 20;
    private const long GrowthPerInputByte = 16;

    [Fact]
    public async Task Each_amplifier_is_refused_while_the_coordinators_memory_stays_bounded_and_it_keeps_serving()
    {
        var root = Directory.CreateTempSubdirectory("rmtc-amp-").FullName;
        CoordinatorProcess? coordinator = null;
        try
        {
            var data = Path.Combine(root, "data");
            RMTC.Farm.Training.Datasets.DatasetSynthesizer.Synthesize("denoiser", data, 24, seed: 5);
            coordinator = await CoordinatorProcess.StartAsync(Path.Combine(root, "farm"), CoordinatorProcess.FreePort());
            using var channel = GrpcChannel.ForAddress(coordinator.Address);
            var jobs = new JobService.JobServiceClient(channel);
            var head = $"name: amp\nrecipe: denoiser\ndataset: {data}\n";

            // Warm every path a refusal takes (parse, error, status) so the baseline holds the code, not the test's input.
            var first = (await jobs.SubmitJobAsync(new SubmitJobRequest { SpecYaml = head + "shards: 2\n", SourceName = "ok.yaml" })).Job;
            await Assert.ThrowsAsync<RpcException>(() => jobs.SubmitJobAsync(new SubmitJobRequest { SpecYaml = head + "bogus: 1\n", SourceName = "warm.yaml" }).ResponseAsync);
            var pid = coordinator.Process.Id;
            // The kernel's peak restarts from here (5 to clear_refs), so VmHWM below is this phase's alone.
            await File.WriteAllTextAsync($"/proc/{pid}/clear_refs", "5");
            var before = ProcessMemory.Of(pid).Resident;

            long sent = 0;
            for (var pass = 0; pass < 3; pass++)
            {
                foreach (var (name, build) in SpecAmplifiers.All)
                {
                    var yaml = build(head, AmplifierBytes);
                    sent += yaml.Length;
                    var clock = System.Diagnostics.Stopwatch.StartNew();
                    var refused = await Assert.ThrowsAsync<RpcException>(() => jobs.SubmitJobAsync(new SubmitJobRequest { SpecYaml = yaml, SourceName = "amp.yaml" }).ResponseAsync);
                    Assert.True(refused.StatusCode == StatusCode.InvalidArgument, $"{name}: {refused.StatusCode} {refused.Status.Detail}");
                    Assert.Matches("over the limit|unknown field", refused.Status.Detail);
                    Assert.InRange(refused.Status.Detail.Length, 1, JobSpecException.MaxMessageBytes);
                    if (pass == 0)
                    {
                        output.WriteLine($"{name}: {yaml.Length} bytes refused in {clock.ElapsedMilliseconds} ms, VmRSS {ProcessMemory.Of(pid).Resident >> 20} MiB: {refused.Status.Detail[..Math.Min(200, refused.Status.Detail.Length)]}");
                    }
                }
            }

            var peak = ProcessMemory.Of(pid).Peak;
            var allowed = GrowthBase + (GrowthPerInputByte * sent);
            output.WriteLine($"VmRSS before {before >> 20} MiB, VmHWM after {peak >> 20} MiB, {sent:N0} bytes of specs sent; growth allowed {allowed >> 20} MiB");
            Assert.True(peak - before <= allowed, $"the coordinator grew from {before >> 20} MiB to a peak of {peak >> 20} MiB on {sent:N0} bytes of specs (allowed {allowed >> 20} MiB)");

            // A run whose manifest could outgrow the stored limit is refused before it starts, naming the setting.
            var endless = await Assert.ThrowsAsync<RpcException>(() => jobs.SubmitJobAsync(new SubmitJobRequest { SpecYaml = head + "shards: 24\nrounds: 100000\n", SourceName = "endless.yaml" }).ResponseAsync);
            Assert.Equal(StatusCode.InvalidArgument, endless.StatusCode);
            Assert.Contains("over the limit of 67108864 (Coordinator:MaxManifestBytes)", endless.Status.Detail, StringComparison.Ordinal);

            // Still serving: a normal spec is accepted and listed beside the first; no refused spec left a run behind.
            var second = (await jobs.SubmitJobAsync(new SubmitJobRequest { SpecYaml = head + "shards: 2\n", SourceName = "ok.yaml" })).Job;
            var listed = (await jobs.ListJobsAsync(new ListJobsRequest())).Jobs.Select(j => j.Id).ToList();
            Assert.Equal(new[] { first.Id, second.Id }.Order(), listed.Order());
            Assert.False(coordinator.Process.HasExited, coordinator.Output);
        }
        finally
        {
            coordinator?.Dispose();
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task A_refusal_reaches_the_cli_as_a_refusal_with_a_bounded_list_and_an_oversize_spec_names_the_settings()
    {
        var root = Directory.CreateTempSubdirectory("rmtc-amp-cli-").FullName;
        CoordinatorProcess? coordinator = null;
        try
        {
            var data = Path.Combine(root, "data");
            RMTC.Farm.Training.Datasets.DatasetSynthesizer.Synthesize("denoiser", data, 24, seed: 5);
            coordinator = await CoordinatorProcess.StartAsync(Path.Combine(root, "farm"), CoordinatorProcess.FreePort());
            var head = $"name: amp\nrecipe: denoiser\ndataset: {data}\n";

            // 10,000 unknown keys: the whole list (2.5 MB) once overflowed HTTP/2's header limit and the CLI said "no coordinator answers".
            var keys = Path.Combine(root, "keys.yaml");
            await File.WriteAllTextAsync(keys, head + string.Concat(Enumerable.Range(0, 10_000).Select(i => string.Create(CultureInfo.InvariantCulture, $"k{i:D5}: 1\n"))));
            var (code, text) = await RmtcCli.RunAsync(TimeSpan.FromMinutes(2), "submit", keys, "--coordinator", coordinator.Address);
            output.WriteLine(text);
            Assert.Equal(2, code);
            Assert.Contains("the job spec has 10000 problems:", text, StringComparison.Ordinal);
            Assert.Contains($"and {10_000 - JobSpecException.MaxListedProblems} more", text, StringComparison.Ordinal);
            Assert.DoesNotContain("no coordinator answers", text, StringComparison.Ordinal);

            // 5 MB: over the gRPC message limit, refused by the transport, whose own words name no setting.
            var big = Path.Combine(root, "big.yaml");
            await File.WriteAllTextAsync(big, head + "#" + new string('x', 5 * 1024 * 1024) + "\n");
            (code, text) = await RmtcCli.RunAsync(TimeSpan.FromMinutes(2), "submit", big, "--coordinator", coordinator.Address);
            output.WriteLine(text);
            Assert.Equal(2, code);
            Assert.Contains("Coordinator:MaxMessageBytes", text, StringComparison.Ordinal);
            Assert.Contains("Coordinator:MaxJobSpecBytes", text, StringComparison.Ordinal);
            Assert.DoesNotContain("no coordinator answers", text, StringComparison.Ordinal);

            // Nothing listening: that, and only that, is "no coordinator answers".
            var address = coordinator.Address;
            coordinator.Dispose();
            coordinator = null;
            (code, text) = await RmtcCli.RunAsync(TimeSpan.FromMinutes(2), "submit", keys, "--coordinator", address);
            Assert.Equal(1, code);
            Assert.Contains("no coordinator answers", text, StringComparison.Ordinal);
        }
        finally
        {
            coordinator?.Dispose();
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void Any_error_status_is_cut_to_a_size_no_http2_peer_refuses()
    {
        // The backstop under every service: a status text of any length leaves the coordinator at most 8 KiB long.
        var huge = new RpcException(new Status(StatusCode.FailedPrecondition, new string('\u00e9', 50_000)));
        var bounded = RMTC.Farm.Coordinator.Services.BoundedStatusInterceptor.Bound(huge)!;
        Assert.Equal(StatusCode.FailedPrecondition, bounded.StatusCode);
        Assert.InRange(System.Text.Encoding.UTF8.GetByteCount(bounded.Status.Detail), 1, RMTC.Farm.Coordinator.Services.BoundedStatusInterceptor.MaxDetailBytes);
        Assert.EndsWith("... (cut from 100000 bytes)", bounded.Status.Detail, StringComparison.Ordinal);
        Assert.Null(RMTC.Farm.Coordinator.Services.BoundedStatusInterceptor.Bound(new RpcException(new Status(StatusCode.NotFound, "short"))));
    }
}
