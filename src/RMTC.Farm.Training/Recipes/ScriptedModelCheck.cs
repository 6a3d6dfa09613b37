using RMTC.Farm.Core.Datasets;
using RMTC.Farm.Core.Training;
using RMTC.Farm.Training.Loop;
using TorchSharp;
using static TorchSharp.torch;

namespace RMTC.Farm.Training.Recipes;

/// <summary>
/// What is checked about a TorchScript model before any training is scheduled on it: the file is within the size
/// limit and loads, its parameters and buffers are of dtypes the farm exchanges, and one forward pass on one training
/// sample gives the shape the task needs. Every refusal names the file and what is wrong.
/// </summary>
public static class ScriptedModelCheck
{
    /// <summary>Largest model file accepted by default (bytes): <see cref="ScriptedModel.MaxBytes"/>.</summary>
    public const long DefaultMaxBytes = ScriptedModel.MaxBytes;

    /// <summary>
    /// Checks <paramref name="model"/> against the dataset at <paramref name="datasetPath"/>; returns the refusals, empty
    /// when the model can be trained on it.
    /// </summary>
    public static IReadOnlyList<string> Check(ScriptedModel model, string datasetPath, long maxBytes = DefaultMaxBytes)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(datasetPath);
        var file = model.Path;
        var info = new FileInfo(file);
        if (!info.Exists)
        {
            return [$"model {file}: no such file (save it with torch.jit.script(model).save(path))"];
        }

        if (info.Length > maxBytes)
        {
            return [$"model {file} is {info.Length} bytes, over the limit of {maxBytes} bytes: make the model smaller"];
        }

        if (!ScriptedModelTasks.All.Contains(model.Task))
        {
            return [$"model {file}: unknown task '{model.Task}' (use {string.Join(" or ", ScriptedModelTasks.All)})"];
        }

        if (!ScriptedModelTasks.LossesFor(model.Task).Contains(model.Loss))
        {
            return [$"model {file}: loss '{model.Loss}' does not fit task {model.Task} (use {string.Join(" or ", ScriptedModelTasks.LossesFor(model.Task))})"];
        }

        DatasetDescriptor descriptor;
        IReadOnlyList<string> samples;
        try
        {
            descriptor = Dataset.ReadDescriptor(datasetPath);
            samples = Dataset.ListSamples(datasetPath);
        }
        catch (DatasetException e)
        {
            return [$"model {file}: the dataset cannot be read: {e.Message}"];
        }

        if (descriptor.Kind != model.Task)
        {
            return [$"model {file} is for task {model.Task}, but dataset {datasetPath} is {descriptor.Kind}: change the model block's task or the dataset"];
        }

        if (samples.Count == 0)
        {
            return [$"model {file}: dataset {datasetPath} has no samples to try the model on"];
        }

        RecipeModel module;
        try
        {
            module = RecipeModel.Of(jit.load<Tensor, Tensor>(file));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return [$"model {file} does not load as TorchScript ({FirstLine(e.Message)}): save it with torch.jit.script(model).save(path)"];
        }

        using (module)
        {
            var problems = new List<string>();
            foreach (var (name, p) in module.Module.named_parameters())
            {
                if (p.dtype != ScalarType.Float32)
                {
                    problems.Add($"model {file}: parameter '{name}' is {p.dtype}; only float32 parameters are supported (call model.float() before scripting)");
                }
            }

            foreach (var (name, b) in module.Module.named_buffers())
            {
                if (b.dtype != ScalarType.Float32 && b.dtype != ScalarType.Int64)
                {
                    problems.Add($"model {file}: buffer '{name}' is {b.dtype}; only float32 and int64 buffers are supported");
                }
            }

            if (problems.Count > 0)
            {
                return problems;
            }

            SampleBatchSource data;
            try
            {
                data = SampleLoader.Load(Path.GetFullPath(datasetPath), descriptor, [samples[0]]);
            }
            catch (DatasetException e)
            {
                return [$"model {file}: cannot read a sample to try it on: {e.Message}"];
            }

            var shape = descriptor.SampleShape;
            long[] expected = model.Task == DatasetKinds.ImagePairs
                ? [1, shape[0], shape[1], shape[2]]
                : [1, descriptor.Classes.Count];
            long[] got;
            ScalarType dtype;
            try
            {
                using var scope = NewDisposeScope();
                using var noGrad = no_grad();
                module.eval();
                var x = tensor(data.Inputs, [1, shape[0], shape[1], shape[2]], ScalarType.Float32);
                var y = module.forward(x);
                got = y.shape;
                dtype = y.dtype;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                return [$"model {file}: the forward pass on sample {samples[0]} ([1, {string.Join(", ", shape)}]) fails: {FirstLine(e.Message)}"];
            }

            if (!got.AsSpan().SequenceEqual(expected))
            {
                problems.Add(model.Task == DatasetKinds.ImagePairs
                    ? $"model {file}: model output is {Shape(got)} but the target is {Shape(expected)}"
                    : got.Length == 2 && got[0] == 1
                        ? $"model {file}: model output is {Shape(got)} but the dataset has {descriptor.Classes.Count} classes"
                        : $"model {file}: model output is {Shape(got)} but labelled-images needs [N, classes] logits, here {Shape(expected)}");
            }
            else if (dtype != ScalarType.Float32)
            {
                problems.Add($"model {file}: model output is {dtype}, it must be float32");
            }

            return problems;
        }
    }

    private static string Shape(long[] shape) => "[" + string.Join(", ", shape) + "]";

    private static string FirstLine(string message)
    {
        var line = message.Split('\n', 2)[0].Trim();
        return line.Length > 300 ? line[..300] + "…" : line;
    }
}
