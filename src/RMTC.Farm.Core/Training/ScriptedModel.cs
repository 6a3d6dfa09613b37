using RMTC.Farm.Core.Datasets;
using RMTC.Farm.Core.Rights;

namespace RMTC.Farm.Core.Training;

/// <summary>
/// A model written in PyTorch and saved as TorchScript (<c>torch.jit.script(m).save(path)</c>), with the task it is
/// trained for: what a spec's <c>model:</c> block says to the training code.
/// </summary>
public sealed record ScriptedModel
{
    /// <summary>The TorchScript file (absolute once resolved against the spec's directory).</summary>
    public required string Path { get; init; }

    /// <summary>The dataset kind it trains on: <c>image-pairs</c> or <c>labelled-images</c> (see <see cref="ScriptedModelTasks"/>).</summary>
    public required string Task { get; init; }

    /// <summary>The loss (see <see cref="ModelLosses"/>): <c>mse</c> or <c>l1</c> for image-pairs, <c>cross_entropy</c> for labelled-images.</summary>
    public required string Loss { get; init; }

    /// <summary>
    /// How refusals name the file when <see cref="Path"/> is a copy of it (an agent's cache entry): the path the spec
    /// named, where it was submitted from. Null: <see cref="Path"/> itself.
    /// </summary>
    public string? Source { get; init; }

    /// <summary>The file's sha256 in the artifact store when it came from there (an agent's copy); null otherwise.</summary>
    public string? Digest { get; init; }

    /// <summary>Largest model file accepted (bytes): 1 GiB, far above a denoiser or classifier, below what a node can hold.</summary>
    public const long MaxBytes = 1L << 30;
}

/// <summary>The tasks a scripted model can be trained for; each is a dataset kind.</summary>
public static class ScriptedModelTasks
{
    /// <summary>Every task, for errors.</summary>
    public static readonly IReadOnlyList<string> All = [DatasetKinds.ImagePairs, DatasetKinds.LabelledImages];

    /// <summary>The losses that fit <paramref name="task"/>; empty for an unknown task.</summary>
    public static IReadOnlyList<string> LossesFor(string task) => task switch
    {
        DatasetKinds.ImagePairs => [ModelLosses.Mse, ModelLosses.L1],
        DatasetKinds.LabelledImages => [ModelLosses.CrossEntropy],
        _ => [],
    };

    /// <summary>
    /// The CAWG assertions a dataset must allow for a model of <paramref name="task"/>: as for the built-in recipe of the
    /// task, so an image-pairs model (it makes images) also needs <c>cawg.ai_generative_training</c>; a labelled-images
    /// model only labels.
    /// </summary>
    public static IReadOnlyList<string> RequiredAssertions(string task) =>
        task == DatasetKinds.LabelledImages
            ? [CawgAssertions.AiTraining]
            : [CawgAssertions.AiTraining, CawgAssertions.AiGenerativeTraining];
}

/// <summary>Names of the losses a scripted model can be trained with.</summary>
public static class ModelLosses
{
    /// <summary>Mean squared error against the target image.</summary>
    public const string Mse = "mse";

    /// <summary>Mean absolute error against the target image.</summary>
    public const string L1 = "l1";

    /// <summary>Cross-entropy of [N, classes] logits against I64 labels.</summary>
    public const string CrossEntropy = "cross_entropy";

    /// <summary>Every name, for errors.</summary>
    public static readonly IReadOnlyList<string> All = [Mse, L1, CrossEntropy];
}
