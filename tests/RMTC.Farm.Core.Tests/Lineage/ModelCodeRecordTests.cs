using RMTC.Farm.Core.Jobs;
using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Core.Tests.Lineage;

/// <summary>The model file's digest as the run's code: absent from manifests of built-in recipes, old ones included.</summary>
public sealed class ModelCodeRecordTests
{
    [Fact]
    public void A_manifest_written_before_model_files_loads_and_writes_the_same_bytes()
    {
        var old = new RunManifest
        {
            RunId = "old-1",
            Spec = new JobSpec { Name = "old", Recipe = "classifier", Dataset = "/d" },
            Code = new CodeRecord { RmtcVersion = "0.9", Runtime = ".NET", Os = "Linux", TorchSharpVersion = "0.107" },
        }.ToJson();
        Assert.DoesNotContain("modelDigest", old, StringComparison.Ordinal);

        var loaded = RunManifest.FromJson(old);

        Assert.Null(loaded.Code.ModelDigest);
        Assert.Null(loaded.Spec!.Model);
        Assert.Equal(old, loaded.ToJson());
    }

    [Fact]
    public void A_scripted_models_digest_is_recorded_beside_the_rmtc_version()
    {
        var digest = new string('c', 64);
        var json = new RunManifest { Code = new CodeRecord { RmtcVersion = "1.0", ModelDigest = digest, ModelBytes = 112678 } }.ToJson();

        Assert.Contains($"\"modelDigest\": \"{digest}\"", json, StringComparison.Ordinal);
        Assert.Equal(digest, RunManifest.FromJson(json).Code.ModelDigest);
        Assert.Equal(112678, RunManifest.FromJson(json).Code.ModelBytes);
    }
}
