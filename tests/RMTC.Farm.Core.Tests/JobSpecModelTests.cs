using System.Text.Json;
using RMTC.Farm.Core.Jobs;
using RMTC.Farm.Core.Training;

namespace RMTC.Farm.Core.Tests;

/// <summary>A spec's <c>model:</c> block (your own TorchScript model) and the local optimiser settings.</summary>
public sealed class JobSpecModelTests
{
    private static readonly string[] Recipes = ["denoiser", "classifier"];

    private const string ModelBlock = """
        name: resnet
        model:
          file: ../models/resnet.pt
          task: labelled-images
          loss: cross_entropy
          licence: Apache-2.0
          origin: fine-tuned from weights X under licence Y
          onnx_template: ../models/resnet.onnx
        dataset: ../datasets/patterns

        """;

    private static JobSpec Parse(string yaml, JobSpecTarget target = JobSpecTarget.Local) =>
        JobSpecParser.Parse(yaml, "job.yaml", "/farm/jobs", Recipes, target: target);

    private static IReadOnlyList<string> Problems(string yaml, JobSpecTarget target = JobSpecTarget.Local) =>
        Assert.Throws<JobSpecException>(() => Parse(yaml, target)).Problems;

    [Fact]
    public void A_model_block_reads_every_field_and_resolves_its_paths_against_the_spec_directory()
    {
        var spec = Parse(ModelBlock);
        Assert.Equal(ModelSpec.RecipeName, spec.Recipe);
        Assert.Equal(
            new ModelSpec
            {
                File = "/farm/models/resnet.pt",
                Task = "labelled-images",
                Loss = "cross_entropy",
                Licence = "Apache-2.0",
                Origin = "fine-tuned from weights X under licence Y",
                OnnxTemplate = "/farm/models/resnet.onnx",
            },
            spec.Model);
        Assert.Equal(new ScriptedModel { Path = "/farm/models/resnet.pt", Task = "labelled-images", Loss = "cross_entropy" }, spec.Model!.ToScriptedModel());
    }

    [Fact]
    public void A_spec_without_a_model_serialises_as_before()
    {
        var spec = Parse("name: a\nrecipe: classifier\ndataset: /d\n");
        Assert.Null(spec.Model);
        Assert.Equal((null, null, null), (spec.Local.Optimizer, spec.Local.Momentum, spec.Local.WeightDecay));
        Assert.Equal(OptimizerSettings.Default, spec.Local.EffectiveOptimizer);
        var json = JsonSerializer.Serialize(spec, new JsonSerializerOptions { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull });
        Assert.DoesNotContain("Model", json, StringComparison.Ordinal);
        Assert.DoesNotContain("Optimizer", json, StringComparison.Ordinal);
        Assert.DoesNotContain("WeightDecay", json, StringComparison.Ordinal);
    }

    [Fact]
    public void Both_recipe_and_model_or_neither_is_refused()
    {
        Assert.Contains(Problems(ModelBlock + "recipe: classifier\n"),
            p => p.EndsWith("recipe: give either `recipe` (a built-in model) or a `model:` block (your own TorchScript model), not both: remove one", StringComparison.Ordinal));
        Assert.Equal(
            ["job.yaml: recipe is required: add `recipe: ...` (a built-in model) or a `model:` block (your own TorchScript model)"],
            Problems("name: a\ndataset: /d\n"));
    }

    [Theory]
    [InlineData("task: labelled-images", "model.file is required: add `file: ...` to the spec")]
    [InlineData("file: m.pt", "model.task is required")]
    [InlineData("file: m.pt\n  task: segmentation\n  loss: mse\n  licence: MIT",
        "model.task: unknown task 'segmentation': use image-pairs (input and target images; loss mse or l1) or labelled-images (input image and class; loss cross_entropy)")]
    [InlineData("file: m.pt\n  task: image-pairs\n  loss: cross_entropy\n  licence: MIT", "model.loss: loss 'cross_entropy' does not fit task image-pairs: use mse or l1")]
    [InlineData("file: m.pt\n  task: labelled-images\n  loss: cross_entropy", "model.licence is required")]
    [InlineData("file: m.pt\n  task: image-pairs\n  loss: l1\n  licence: MIT\n  weights: w.safetensors", "model.weights: unknown field 'weights'")]
    public void A_model_block_with_a_missing_or_wrong_field_is_refused_naming_it(string body, string expected)
    {
        var problems = Problems($"name: a\ndataset: /d\nmodel:\n  {body}\n");
        Assert.Contains(problems, p => p.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void The_farm_reads_a_model_block_as_train_local_does()
    {
        Assert.Equal(Parse(ModelBlock, JobSpecTarget.Local).Model, Parse(ModelBlock, JobSpecTarget.Farm).Model);
        // The default target is the farm: the coordinator's calls parse it unchanged.
        Assert.Equal("torchscript", JobSpecParser.Parse(ModelBlock, "job.yaml", "/farm/jobs", Recipes).Recipe);
    }

    [Fact]
    public void Local_reads_the_optimiser_settings()
    {
        var spec = Parse("name: a\nrecipe: classifier\ndataset: /d\nlocal: { optimizer: sgd, momentum: 0.9, weight_decay: 0.0005 }\n");
        Assert.Equal(new OptimizerSettings { Name = "sgd", Momentum = 0.9, WeightDecay = 0.0005 }, spec.Local.EffectiveOptimizer);
        spec = Parse("name: a\nrecipe: classifier\ndataset: /d\nlocal: { optimizer: adam, weight_decay: 0.01 }\n");
        Assert.Equal(new OptimizerSettings { Name = "adam", WeightDecay = 0.01 }, spec.Local.EffectiveOptimizer);
        // Saying adam with nothing else is today's optimiser, which the farm runs.
        spec = Parse("name: a\nrecipe: classifier\ndataset: /d\nlocal: { optimizer: adam }\n", JobSpecTarget.Farm);
        Assert.Equal(OptimizerSettings.Default, spec.Local.EffectiveOptimizer);
    }

    [Theory]
    [InlineData("local: { optimizer: lbfgs }", "local.optimizer: unknown optimizer 'lbfgs': use adam or sgd")]
    [InlineData("local: { momentum: 0.9 }", "local.momentum: `momentum` applies to `optimizer: sgd` (adam has its own): add `optimizer: sgd` or remove `momentum`")]
    [InlineData("local: { optimizer: sgd, momentum: 1 }", "`momentum` must be at least 0 and below 1")]
    [InlineData("local: { weight_decay: -0.1 }", "`weight_decay` must be at least 0 and at most 1")]
    public void Wrong_optimiser_settings_are_refused_naming_the_field(string line, string expected)
    {
        Assert.Contains(Problems($"name: a\nrecipe: classifier\ndataset: /d\n{line}\n"), p => p.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void The_farm_reads_sgd_and_weight_decay_for_every_recipe()
    {
        var spec = Parse("name: a\nrecipe: classifier\ndataset: /d\nlocal: { optimizer: sgd, momentum: 0.9, weight_decay: 0.01 }\n", JobSpecTarget.Farm);
        Assert.Equal(new OptimizerSettings { Name = "sgd", Momentum = 0.9, WeightDecay = 0.01 }, spec.Local.EffectiveOptimizer);
        spec = Parse("name: a\nrecipe: denoiser\ndataset: /d\nlocal: { weight_decay: 0.01 }\n", JobSpecTarget.Farm);
        Assert.Equal(new OptimizerSettings { Name = "adam", WeightDecay = 0.01 }, spec.Local.EffectiveOptimizer);
    }

    [Fact]
    public void The_example_model_jobs_parse()
    {
        var jobs = Path.Combine(RepoRoot(), "farm", "jobs");
        foreach (var name in new[] { "resnet-classifier.yaml", "unet-denoiser.yaml" })
        {
            var spec = JobSpecParser.Parse(File.ReadAllText(Path.Combine(jobs, name)), name, jobs, Recipes, target: JobSpecTarget.Local);
            Assert.True(File.Exists(spec.Model!.File), spec.Model.File);
            Assert.True(File.Exists(spec.Model.OnnxTemplate), spec.Model.OnnxTemplate);
        }
    }

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "RMTC.Farm.sln")))
        {
            dir = dir.Parent;
        }

        return dir!.FullName;
    }
}
