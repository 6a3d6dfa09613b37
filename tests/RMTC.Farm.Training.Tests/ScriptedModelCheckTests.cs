using RMTC.Farm.Core.Datasets;
using RMTC.Farm.Core.Training;
using RMTC.Farm.Training.Recipes;

namespace RMTC.Farm.Training.Tests;

/// <summary>The check a TorchScript model passes before training is scheduled on it: each refusal names the file and the fault.</summary>
public class ScriptedModelCheckTests
{
    private static string TestModel(string name) => Path.Combine(ScriptedModelTests.Models, "testdata", name);

    [Fact]
    public void The_example_models_pass_on_the_datasets_they_are_made_for()
    {
        using var dir = new TempDirectory();
        Assert.Empty(ScriptedModelCheck.Check(ScriptedModelTests.Classifier, ScriptedModelTests.Synth(dir, "classifier", 4)));
        Assert.Empty(ScriptedModelCheck.Check(ScriptedModelTests.Denoiser, ScriptedModelTests.Synth(dir, "denoiser", 4)));
    }

    [Fact]
    public void A_classifier_with_the_wrong_class_count_is_refused_with_both_counts()
    {
        using var dir = new TempDirectory();
        var tenClasses = ScriptedModelTests.Classifier with { Path = Path.Combine(ScriptedModelTests.Models, "resnet_classifier.pt") };
        var problem = Assert.Single(ScriptedModelCheck.Check(tenClasses, ScriptedModelTests.Synth(dir, "classifier", 4)));
        Assert.Equal($"model {tenClasses.Path}: model output is [1, 10] but the dataset has 4 classes", problem);
    }

    [Fact]
    public void An_image_model_whose_output_is_not_the_targets_shape_is_refused()
    {
        using var dir = new TempDirectory();
        var model = ScriptedModelTests.Denoiser with { Path = TestModel("half_size_denoiser.pt") };
        var problem = Assert.Single(ScriptedModelCheck.Check(model, ScriptedModelTests.Synth(dir, "denoiser", 4)));
        Assert.Equal($"model {model.Path}: model output is [1, 3, 16, 16] but the target is [1, 3, 32, 32]", problem);
    }

    [Fact]
    public void A_model_whose_forward_pass_fails_on_a_sample_is_refused_naming_the_sample_shape()
    {
        using var dir = new TempDirectory();
        // The 1-channel classifier fed 3-channel denoiser patches.
        var model = ScriptedModelTests.Classifier with { Task = DatasetKinds.ImagePairs, Loss = ModelLosses.Mse };
        var problem = Assert.Single(ScriptedModelCheck.Check(model, ScriptedModelTests.Synth(dir, "denoiser", 4)));
        Assert.StartsWith($"model {model.Path}: the forward pass on sample samples/000000.safetensors ([1, 3, 32, 32]) fails: ", problem);
    }

    [Fact]
    public void Float64_parameters_are_refused_naming_each()
    {
        using var dir = new TempDirectory();
        var model = ScriptedModelTests.Classifier with { Path = TestModel("float64_classifier.pt") };
        var problems = ScriptedModelCheck.Check(model, ScriptedModelTests.Synth(dir, "classifier", 4));
        Assert.Equal(
            [
                $"model {model.Path}: parameter 'fc.weight' is Float64; only float32 parameters are supported (call model.float() before scripting)",
                $"model {model.Path}: parameter 'fc.bias' is Float64; only float32 parameters are supported (call model.float() before scripting)",
            ],
            problems);
    }

    [Fact]
    public void A_file_that_is_not_TorchScript_missing_or_too_large_is_refused()
    {
        using var dir = new TempDirectory();
        var data = ScriptedModelTests.Synth(dir, "classifier", 4);
        var garbage = ScriptedModelTests.Classifier with { Path = TestModel("not_torchscript.pt") };
        var problem = Assert.Single(ScriptedModelCheck.Check(garbage, data));
        Assert.StartsWith($"model {garbage.Path} does not load as TorchScript (", problem);
        Assert.EndsWith("): save it with torch.jit.script(model).save(path)", problem);

        var missing = ScriptedModelTests.Classifier with { Path = dir.Combine("absent.pt") };
        Assert.Equal([$"model {missing.Path}: no such file (save it with torch.jit.script(model).save(path))"], ScriptedModelCheck.Check(missing, data));

        var size = new FileInfo(ScriptedModelTests.Classifier.Path).Length;
        Assert.Equal(
            [$"model {ScriptedModelTests.Classifier.Path} is {size} bytes, over the limit of 1000 bytes: make the model smaller"],
            ScriptedModelCheck.Check(ScriptedModelTests.Classifier, data, maxBytes: 1000));
    }

    [Fact]
    public void A_task_that_is_not_the_datasets_kind_or_a_loss_that_does_not_fit_it_is_refused()
    {
        using var dir = new TempDirectory();
        var data = ScriptedModelTests.Synth(dir, "classifier", 4);
        var denoiser = ScriptedModelTests.Denoiser;
        Assert.Equal(
            [$"model {denoiser.Path} is for task image-pairs, but dataset {data} is labelled-images: change the model block's task or the dataset"],
            ScriptedModelCheck.Check(denoiser, data));
        var wrongLoss = ScriptedModelTests.Classifier with { Loss = ModelLosses.Mse };
        Assert.Equal(
            [$"model {wrongLoss.Path}: loss 'mse' does not fit task labelled-images (use cross_entropy)"],
            ScriptedModelCheck.Check(wrongLoss, data));
    }
}
