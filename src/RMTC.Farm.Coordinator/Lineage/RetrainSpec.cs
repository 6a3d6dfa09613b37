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
        if (spec.Model is { } model)
        {
            // The model block as submitted (absolute paths): a retrain after a revoked licence points model.file elsewhere.
            sb.AppendLine("model:");
            sb.AppendLine(inv, $"  file: {Quoted(model.File)}");
            sb.AppendLine(inv, $"  task: {model.Task}");
            sb.AppendLine(inv, $"  loss: {model.Loss}");
            sb.AppendLine(inv, $"  licence: {Quoted(model.Licence)}");
            if (model.Origin is { } origin)
            {
                sb.AppendLine(inv, $"  origin: {Quoted(origin)}");
            }

            if (model.OnnxTemplate is { } template)
            {
                sb.AppendLine(inv, $"  onnx_template: {Quoted(template)}");
            }
        }
        else
        {
            sb.AppendLine(inv, $"recipe: {spec.Recipe}");
        }

        sb.AppendLine(inv, $"dataset: {datasetPath}");
        var excluded = spec.ExcludeAssets.Concat(excludeAssets).Distinct().ToList();
        if (excluded.Count > 0)
        {
            sb.AppendLine("exclude_assets:");
            foreach (var a in excluded)
            {
                sb.AppendLine(inv, $"  - {a}");
            }
        }

        sb.AppendLine(inv, $"shards: {spec.Shards}");
        sb.AppendLine(inv, $"rounds: {spec.Rounds}");
        sb.AppendLine(inv, $"seed: {spec.Seed}");
        sb.AppendLine(inv, $"max_retries: {spec.MaxRetries}");
        var optimizer = spec.Local.Optimizer is { } name
            ? $", optimizer: {name}{(spec.Local.Momentum is { } mu ? $", momentum: {mu.ToString(inv)}" : "")}"
            : "";
        var decay = spec.Local.WeightDecay is { } wd ? $", weight_decay: {wd.ToString(inv)}" : "";
        var schedule = spec.Local.LearningRateSchedule is { } curve
            ? $", learning_rate_schedule: {curve}{(spec.Local.FinalLearningRate is { } last ? $", final_learning_rate: {last.ToString(inv)}" : "")}"
            : "";
        var augment = spec.Local.Augment is { } how ? $", augment: {how}" : "";
        var spread = spec.Local.RoundsPerEpoch is { } perEpoch ? $", rounds_per_epoch: {perEpoch}" : "";
        sb.AppendLine(inv, $"local: {{ epochs: {spec.Local.Epochs}, batch_size: {spec.Local.BatchSize}, learning_rate: {spec.Local.LearningRate.ToString(inv)}{optimizer}{decay}{schedule}{augment}{spread} }}");
        sb.AppendLine(inv, $"merge: {{ strategy: {spec.Merge.Strategy}, outer_learning_rate: {spec.Merge.OuterLearningRate.ToString(inv)}, momentum: {spec.Merge.Momentum.ToString(inv)} }}");
        var r = spec.Resources;
        sb.AppendLine(inv, $"resources: {{ gpus: {r.Gpus}, gpu_memory: {r.GpuMemoryMiB}m, memory: {r.MemoryMiB}m, cores: {r.Cores.ToString(inv)}, tags: [{string.Join(", ", r.Tags)}] }}");
        return sb.ToString();
    }

    /// <summary>A YAML double-quoted scalar: paths and licence texts may hold ':' or '#'.</summary>
    private static string Quoted(string text) =>
        "\"" + text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}
