using System.Globalization;
using System.Text;
using RMTC.Farm.Core.Jobs;

namespace RMTC.Farm.Coordinator.Lineage;

/// <summary>The job spec that trains a run again without some assets (consent withdrawn, licence revoked).</summary>
public static class RetrainSpec
{
    /// <summary>
    /// The file to save a run's retrain spec as: the whole run id, so two runs of one job (which share the job name and
    /// any short prefix of the id) never get the same file.
    /// </summary>
    public static string FileName(string runId) => $"retrain-{runId}.yaml";

    /// <summary>The command that submits a saved retrain spec and follows it.</summary>
    public static string Command(string runId) => $"rmtc submit {FileName(runId)} --wait";

    public static string Yaml(JobSpec spec, string datasetPath, params string[] excludeAssets)
    {
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        sb.AppendLine(inv, $"name: {spec.Name}-retrain");
        sb.AppendLine(inv, $"recipe: {spec.Recipe}");
        sb.AppendLine(inv, $"dataset: {datasetPath}");
        sb.AppendLine("exclude_assets:");
        foreach (var a in spec.ExcludeAssets.Concat(excludeAssets).Distinct())
        {
            sb.AppendLine(inv, $"  - {a}");
        }

        sb.AppendLine(inv, $"shards: {spec.Shards}");
        sb.AppendLine(inv, $"rounds: {spec.Rounds}");
        sb.AppendLine(inv, $"seed: {spec.Seed}");
        sb.AppendLine(inv, $"max_retries: {spec.MaxRetries}");
        sb.AppendLine(inv, $"local: {{ epochs: {spec.Local.Epochs}, batch_size: {spec.Local.BatchSize}, learning_rate: {spec.Local.LearningRate.ToString(inv)} }}");
        sb.AppendLine(inv, $"merge: {{ strategy: {spec.Merge.Strategy}, outer_learning_rate: {spec.Merge.OuterLearningRate.ToString(inv)}, momentum: {spec.Merge.Momentum.ToString(inv)} }}");
        var r = spec.Resources;
        sb.AppendLine(inv, $"resources: {{ gpus: {r.Gpus}, gpu_memory: {r.GpuMemoryMiB}m, memory: {r.MemoryMiB}m, cores: {r.Cores.ToString(inv)}, tags: [{string.Join(", ", r.Tags)}] }}");
        return sb.ToString();
    }
}
