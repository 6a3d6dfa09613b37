using System.Text.Json;
using RMTC.Farm.Core.Training;
using RMTC.Farm.Core.Weights;
using RMTC.Farm.Training.Tasks;

namespace RMTC.Farm.Training.Tests;

/// <summary>
/// The prepare task of a run of a TorchScript model, as an agent's trainer runs it on its cached copy of the file: the
/// check, then the module's own state as the initial weights; a refusal names the file as the spec named it.
/// </summary>
public class ScriptedModelPreparationTests
{
    private static ShardTask Task(TempDirectory dir, ScriptedModel model, string data) => new()
    {
        Kind = ShardTaskKinds.Prepare,
        RunId = "own-1",
        Round = 0,
        Shard = -1,
        Recipe = Core.Jobs.ModelSpec.RecipeName,
        DatasetPath = data,
        SampleIndices = [],
        InitialWeightsPath = "",
        Seed = 1,
        OutputPath = dir.Combine("initial.safetensors"),
        ResultPath = dir.Combine("result.json"),
        Model = model,
    };

    /// <summary>The model as an agent holds it: a copy under its digest in the cache, named for refusals by the spec's path.</summary>
    private static ScriptedModel CachedCopy(TempDirectory dir, ScriptedModel model)
    {
        var copy = dir.Combine("cache-" + Path.GetFileName(model.Path));
        File.Copy(model.Path, copy);
        return model with { Path = copy, Source = model.Path, Digest = new string('a', 64) };
    }

    [Fact]
    public void A_model_that_fits_prepares_its_own_state_named_for_its_digest()
    {
        using var dir = new TempDirectory();
        var data = ScriptedModelTests.Synth(dir, "classifier", 4);
        var model = CachedCopy(dir, ScriptedModelTests.Classifier);

        RunInitialisation.Run(Task(dir, model, data));

        var written = Safetensors.ReadFile(dir.Combine("initial.safetensors"));
        Assert.Equal(new string('a', 64), written.Metadata["rmtc.model"]);
        Assert.Equal("initial", written.Metadata["rmtc.kind"]);
        Assert.Contains(written.Tensors, t => t.DType == TensorDType.I64 && t.Name.EndsWith("num_batches_tracked", StringComparison.Ordinal));
        // BatchNorm's running statistics are named for the merge (a server step must not extrapolate them); the counters
        // and the learned parameters are not.
        var statistics = WeightsMetadata.ReadStatistics(written.Metadata);
        Assert.NotEmpty(statistics);
        Assert.All(statistics, s => Assert.True(s.EndsWith(".running_mean", StringComparison.Ordinal) || s.EndsWith(".running_var", StringComparison.Ordinal), s));
        Assert.Equal(written.Tensors.Count(t => t.Name.EndsWith(".running_mean", StringComparison.Ordinal) || t.Name.EndsWith(".running_var", StringComparison.Ordinal)), statistics.Count);
    }

    [Fact]
    public void A_model_that_does_not_fit_is_refused_naming_the_specs_file_and_the_refusal_is_written_for_the_agent()
    {
        using var dir = new TempDirectory();
        var data = ScriptedModelTests.Synth(dir, "classifier", 4);
        var tenClasses = ScriptedModelTests.Classifier with { Path = Path.Combine(ScriptedModelTests.Models, "resnet_classifier.pt") };
        var model = CachedCopy(dir, tenClasses);

        var e = Assert.Throws<ScriptedModelRefusedException>(() => RunInitialisation.Run(Task(dir, model, data)));

        var expected = $"model {tenClasses.Path}: model output is [1, 10] but the dataset has 4 classes";
        Assert.Equal([expected], e.Problems);
        var refusal = JsonSerializer.Deserialize<TaskRefusal>(File.ReadAllText(dir.Combine("result.json")), new JsonSerializerOptions(JsonSerializerDefaults.Web))!;
        Assert.Equal([expected], refusal.Problems);
        Assert.False(File.Exists(dir.Combine("initial.safetensors")));
    }
}
