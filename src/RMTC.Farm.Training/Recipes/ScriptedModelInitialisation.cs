using RMTC.Farm.Core.Training;
using RMTC.Farm.Core.Weights;

namespace RMTC.Farm.Training.Recipes;

/// <summary>
/// What a run of a TorchScript model starts from: the model checked against its dataset (<see cref="ScriptedModelCheck"/>),
/// then its own state as saved (parameters and buffers) as the initial weights.
/// </summary>
/// <param name="Problems">Every refusal, each naming the file and what is wrong; empty when the model can be trained.</param>
/// <param name="InitialWeights">The module's state, F32 with I64 counters, ordered by name; null when refused.</param>
/// <param name="Statistics">The names of its floating-point buffers (running statistics); empty when refused.</param>
public sealed record ScriptedModelStart(IReadOnlyList<string> Problems, IReadOnlyList<NamedTensor>? InitialWeights, IReadOnlyList<string> Statistics);

/// <summary>
/// The one Training-side call that turns a submitted TorchScript model into a run's start, where training code runs: the
/// run's prepare task on an agent (<see cref="Tasks.RunInitialisation"/>) and <c>rmtc submit</c> before it sends a spec.
/// </summary>
public static class ScriptedModelInitialisation
{
    /// <summary>
    /// Checks <paramref name="model"/> (its <see cref="ScriptedModel.Path"/> a local copy of the file) against the dataset at
    /// <paramref name="datasetPath"/> and, when it passes, reads its initial weights.
    /// </summary>
    public static ScriptedModelStart Create(ScriptedModel model, string datasetPath, long maxBytes = ScriptedModelCheck.DefaultMaxBytes)
    {
        ArgumentNullException.ThrowIfNull(model);
        var problems = ScriptedModelCheck.Check(model, datasetPath, maxBytes);
        if (problems.Count > 0)
        {
            return new ScriptedModelStart(problems, null, []);
        }

        var (weights, statistics) = RecipeCatalog.CreateInitialState(model);
        return new ScriptedModelStart([], weights, statistics);
    }
}
