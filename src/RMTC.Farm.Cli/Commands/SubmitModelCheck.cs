using RMTC.Farm.Core.Jobs;
using RMTC.Farm.Core.OpenCue;
using RMTC.Farm.Core.Training;
using RMTC.Farm.Training.Recipes;

namespace RMTC.Farm.Cli.Commands;

/// <summary>
/// The check of a spec's TorchScript model that <c>rmtc submit</c> runs before it sends the spec, when it can read the file
/// and the dataset from where it runs: the same check as the run's prepare task on an agent
/// (<see cref="ScriptedModelCheck"/>), so a wrangler hears at once that a model does not fit instead of from a failed run.
/// </summary>
internal static class SubmitModelCheck
{
    /// <summary>
    /// The refusals of the spec's model (each as <c>SOURCE: model: model FILE ...</c>); empty when it passes, when the spec
    /// has no model block, or when the check cannot run here (a spec the coordinator will refuse anyway, a file or dataset
    /// only the farm can read): then the farm checks it.
    /// </summary>
    public static IReadOnlyList<string> Check(string specText, string sourceName, string baseDirectory)
    {
        if (CjslParser.LooksLikeCjsl(specText))
        {
            return [];
        }

        JobSpec spec;
        try
        {
            spec = JobSpecParser.Parse(specText, sourceName, baseDirectory, BuiltInRecipes.Names);
        }
        catch (JobSpecException)
        {
            return []; // the coordinator says what is wrong with the spec, in its own words
        }

        if (spec.Model is not { } model || !File.Exists(model.File) || !Directory.Exists(spec.Dataset))
        {
            return [];
        }

        return ScriptedModelCheck.Check(model.ToScriptedModel(), spec.Dataset).Select(p => $"{sourceName}: model: {p}").ToList();
    }
}
