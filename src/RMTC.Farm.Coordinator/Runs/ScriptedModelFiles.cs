using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Datasets;
using RMTC.Farm.Core.Jobs;
using RMTC.Farm.Core.Training;

namespace RMTC.Farm.Coordinator.Runs;

/// <summary>
/// A spec's TorchScript model on its way into a run, as far as the coordinator goes without libtorch: the file is there,
/// within the size limit, and stored content-addressed. Whether it loads and fits the data is checked where training
/// code runs: the run's prepare task on an agent (which fails the run, naming the file, when it does not) and the
/// submitting CLI when it can read the file.
/// </summary>
internal static class ScriptedModelFiles
{
    /// <summary>A stored model file.</summary>
    public sealed record Stored(string Digest, long Bytes);

    /// <summary>
    /// Stores the model of <paramref name="spec"/>. Throws <see cref="JobSpecException"/> naming the file when it is
    /// missing, unreadable or over <see cref="ScriptedModel.MaxBytes"/>; nothing is stored then.
    /// </summary>
    public static Stored Store(ModelSpec spec, string sourceName, IArtifactStore artifacts)
    {
        var file = spec.File;
        var info = new FileInfo(file);
        if (!info.Exists)
        {
            throw Refused(sourceName, $"model {file}: no such file (save it with torch.jit.script(model).save(path)); the path is read on the coordinator, like the dataset's");
        }

        if (info.Length > ScriptedModel.MaxBytes)
        {
            throw Refused(sourceName, $"model {file} is {info.Length} bytes, over the limit of {ScriptedModel.MaxBytes} bytes: make the model smaller");
        }

        try
        {
            using var content = File.OpenRead(file);
            using var put = artifacts.BeginPut(ArtifactKind.TorchScript);
            content.CopyTo(put.Stream);
            var stored = put.Commit();
            return new Stored(stored.Digest, stored.Length);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Refused(sourceName, $"model {file} cannot be read: {e.Message}");
        }
    }

    /// <summary>The built-in recipe whose dataset a model's task reads, for the dataset reader's hints.</summary>
    public static string DatasetRecipe(ModelSpec spec) => spec.Task == DatasetKinds.ImagePairs ? "denoiser" : "classifier";

    private static JobSpecException Refused(string sourceName, string problem) => new([$"{sourceName}: model: {problem}"]);
}
