using Grpc.Core;
using RMTC.Farm.Integration.Tests.Fixtures;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Integration.Tests;

/// <summary>Data that may not be trained on is refused at submission, over the real API, with nothing scheduled or stored.</summary>
public sealed class RightsEnforcementTests
{
    [Theory]
    [InlineData("cawg.ai_training: notAllowed", "cawg.ai_training is notAllowed")]
    [InlineData("c2pa.ai_training: notAllowed", "cawg.ai_training is notAllowed")]
    [InlineData("cawg.ai_training: { use: constrained, constraint_info: \"internal R&D only\" }", "constraint_info \"internal R&D only\"")]
    [InlineData("cawg.data_mining: allowed", "cawg.ai_training is missing")]
    public async Task A_dataset_that_forbids_training_is_refused_naming_dataset_and_assertion(string rights, string expected)
    {
        await using var farm = await FarmFixture.StartAsync();
        var data = WithRights(farm.Synthesize("classifier", 20), rights);
        var artifactsBefore = Directory.GetFiles(StoredArtifacts.FileStoreDirectory(farm.DataDirectory)).Length;

        var error = await Assert.ThrowsAsync<RpcException>(() => farm.SubmitAsync($"name: r\nrecipe: classifier\ndataset: {data}\nshards: 2\nrounds: 1\n"));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("synth-classifier", error.Status.Detail);
        Assert.Contains(expected, error.Status.Detail);
        Assert.Empty((await farm.Jobs.ListJobsAsync(new ListJobsRequest())).Jobs);
        Assert.Equal(artifactsBefore, Directory.GetFiles(StoredArtifacts.FileStoreDirectory(farm.DataDirectory)).Length);
    }

    [Fact]
    public async Task A_constrained_dataset_trains_when_the_job_accepts_the_constraint_and_the_closure_records_it()
    {
        await using var farm = await FarmFixture.StartAsync();
        var data = WithRights(farm.Synthesize("classifier", 20), "cawg.ai_training: { use: constrained, constraint_info: \"internal R&D only\" }");
        await farm.StartAgentsAsync(1);
        var job = await farm.SubmitAsync($"name: r\nrecipe: classifier\ndataset: {data}\nshards: 1\nrounds: 1\nrights: {{ accept_constraints: [\"internal R&D only\"] }}\n");
        var done = await farm.WaitAsync(job.Id, TimeSpan.FromMinutes(2));
        Assert.Equal(JobState.Succeeded, done.State);
        var closure = System.Text.Json.JsonSerializer.Serialize(farm.Scheduler.GetManifest(job.Id)!.LicenceClosure, Core.Lineage.RunManifest.JsonOptions);
        Assert.Contains("internal R&D only", closure);
        Assert.Contains("CC0-1.0", closure);
    }

    /// <summary>Replaces the rights block of a synthesized dataset's dataset.yaml (a copy, so other tests keep theirs).</summary>
    private static string WithRights(string source, string rightsLine)
    {
        var copy = source + "-" + Guid.NewGuid().ToString("N")[..6];
        Directory.CreateDirectory(Path.Combine(copy, "samples"));
        foreach (var file in Directory.GetFiles(Path.Combine(source, "samples")))
        {
            File.Copy(file, Path.Combine(copy, "samples", Path.GetFileName(file)));
        }

        var yaml = File.ReadAllLines(Path.Combine(source, "dataset.yaml"));
        var output = new List<string>();
        var inRights = false;
        foreach (var line in yaml)
        {
            if (line.StartsWith("rights:", StringComparison.Ordinal))
            {
                inRights = true;
                output.Add("rights:");
                output.Add("  " + rightsLine);
                continue;
            }

            if (inRights && line.StartsWith(' '))
            {
                continue;
            }

            inRights = false;
            output.Add(line);
        }

        File.WriteAllLines(Path.Combine(copy, "dataset.yaml"), output);
        return copy;
    }
}
