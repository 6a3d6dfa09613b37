using System.Reflection;
using System.Runtime.InteropServices;
using RMTC.Farm.Coordinator.Lineage;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Datasets;
using RMTC.Farm.Core.Jobs;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Core.OpenCue;
using RMTC.Farm.Core.Planning;
using RMTC.Farm.Core.Rights;
using RMTC.Farm.Core.Training;

namespace RMTC.Farm.Coordinator.Runs;

/// <summary>
/// Turns a submitted spec into a run ready to queue: dataset checked and hashed, shards planned. Its initial weights are
/// built by an agent (the run's prepare task, <c>FarmScheduler.Tasks.cs</c>): the coordinator loads no model code.
/// </summary>
internal static class RunPreparation
{
    /// <summary>
    /// Parses a spec as <c>rmtc submit</c> sends it: our YAML, or an OpenCue spec (CJSL) holding one job. Throws
    /// <see cref="JobSpecException"/> naming what is wrong.
    /// </summary>
    public static JobSpec ParseSubmitted(string text, string sourceName, string baseDirectory, int maxSpecBytes = JobSpecLimits.DefaultMaxSpecBytes) =>
        CjslParser.LooksLikeCjsl(text)
            ? OneCjslJob(text, sourceName, baseDirectory)
            : JobSpecParser.Parse(text, sourceName, baseDirectory, BuiltInRecipes.Names, maxSpecBytes);

    /// <summary>An OpenCue spec (CJSL) given where our YAML is expected: it must hold exactly one job.</summary>
    private static JobSpec OneCjslJob(string xml, string sourceName, string baseDirectory)
    {
        var specs = ParseCjsl(xml, sourceName, baseDirectory);
        return specs.Count == 1
            ? specs[0]
            : throw new JobSpecException([$"{sourceName}: this OpenCue spec holds {specs.Count} jobs; `rmtc submit` takes one: split it, or launch it with pycue (opencue.api.launchSpec) on the OpenCue port"]);
    }

    /// <summary>Parses an OpenCue spec into one training spec per job (null <paramref name="baseDirectory"/>: dataset paths must be absolute). Throws <see cref="JobSpecException"/>.</summary>
    public static IReadOnlyList<JobSpec> ParseCjsl(string xml, string sourceName, string? baseDirectory) =>
        CjslTraining.ToJobSpecs(CjslParser.Parse(xml, sourceName), sourceName, baseDirectory, BuiltInRecipes.Names);

    /// <summary>
    /// Everything a new run of a parsed spec needs before it is scheduled: the dataset opened and every sample hashed,
    /// rights judged, shards planned, asset lists stored. Throws <see cref="JobSpecException"/> on any problem.
    /// </summary>
    public static PreparedRun Prepare(
        JobSpec spec, string sourceName, string submittedBy, IArtifactStore artifacts, DateTimeOffset now)
    {
        Dataset dataset;
        try
        {
            dataset = Dataset.Open(spec.Dataset, spec.Model is { } model ? ScriptedModelFiles.DatasetRecipe(model) : spec.Recipe);
        }
        catch (DatasetException e)
        {
            throw new JobSpecException([$"{sourceName}: dataset: {e.Message}"]);
        }

        var d = dataset.Descriptor;
        var wantKind = spec.Model?.Task ?? BuiltInRecipes.DatasetKind(spec.Recipe);
        if (spec.Model is { } m && !string.Equals(d.Kind, wantKind, StringComparison.Ordinal))
        {
            throw new JobSpecException([$"{sourceName}: model: model {m.File} is for task {m.Task}, but dataset '{d.Name}' holds {d.Kind}: change the model block's task or the dataset"]);
        }

        if (!string.Equals(d.Kind, wantKind, StringComparison.Ordinal))
        {
            throw new JobSpecException([$"{sourceName}: dataset: '{d.Name}' holds {d.Kind} but recipe '{spec.Recipe}' trains on {wantKind}: pick a {wantKind} dataset (e.g. `rmtc dataset synth --recipe {spec.Recipe}`)"]);
        }

        var render = d.Render;
        var unknown = spec.ExcludeAssets.Where(x => dataset.Samples.All(a => a.Sha256 != x) && render?.FramesOf(x).Any() != true).ToList();
        if (unknown.Count > 0)
        {
            throw new JobSpecException([$"{sourceName}: exclude_assets: {string.Join(", ", unknown)} {(unknown.Count == 1 ? "is not an asset" : "are not assets")} of dataset '{d.Name}' ({dataset.Directory}): check the digests against `rmtc lineage impact`"]);
        }

        if (spec.ExcludeAssets.Count > 0)
        {
            // The run trains on, is judged on the rights of, and records only the assets it keeps.
            var excluded = spec.ExcludeAssets.ToHashSet(StringComparer.Ordinal);
            dataset = new Dataset
            {
                Directory = dataset.Directory,
                Descriptor = dataset.Descriptor,
                // Withdrawing a source render withdraws every patch cut from it.
                Samples = dataset.Samples.Where(a => !excluded.Contains(a.Sha256) && render?.CutFrom(a.RelativePath, excluded) != true).ToList(),
                Digest = dataset.Digest,
            };
        }

        TrainingData data;
        try
        {
            data = TrainingData.Select(dataset, spec.Evaluation?.Split);
        }
        catch (DatasetException e)
        {
            throw new JobSpecException([$"{sourceName}: evaluation.split: {e.Message}"]);
        }

        if (spec.Shards > data.Train.Count)
        {
            throw new JobSpecException([$"{sourceName}: shards: {spec.Shards} shards asked for but dataset '{d.Name}' has {data.Train.Count} samples to train on{(spec.ExcludeAssets.Count > 0 ? " left after exclude_assets" : "")}{(data.HeldOut.Count > 0 ? " outside its held-out splits" : "")}: use at most {data.Train.Count} shards"]);
        }

        if (spec.EffectiveSharding == ShardingStrategies.ByLabel && d.Kind != DatasetKinds.LabelledImages)
        {
            throw new JobSpecException([$"{sourceName}: sharding: by-label needs a labelled-images dataset, '{d.Name}' holds {d.Kind}: use sharding: iid"]);
        }

        // Before anything reaches the artifact store: a refused job must leave no trace of the data it may not use.
        var required = spec.Model is { } scripted ? ScriptedModelTasks.RequiredAssertions(scripted.Task) : BuiltInRecipes.RequiredAssertions(spec.Recipe);
        var rights = RightsPolicy.Evaluate(dataset, required, spec.Rights?.AcceptConstraints ?? []);
        if (!rights.Allowed)
        {
            throw new JobSpecException([$"{sourceName}: {rights.Message}"]);
        }

        // A model file is stored for agents to fetch by digest (the prepare task checks that it loads and fits the data),
        // and its own licence joins the closure.
        var modelFile = spec.Model is { } modelSpec ? ScriptedModelFiles.Store(modelSpec, sourceName, artifacts) : null;
        var sources = RightsSource.FromDataset(dataset).ToList();
        if (modelFile is not null)
        {
            sources.Add(RightsSource.FromModelFile(spec.Model!.File, modelFile.Digest, spec.Model.Licence, spec.Model.Origin));
        }

        var closure = LicenceClosure.Of(sources);

        var runId = $"{spec.Name}-{Convert.ToHexStringLower(Guid.NewGuid().ToByteArray().AsSpan(0, 3))}";
        var initSeed = RunSeeds.Init(spec.Seed);
        var planSeed = RunSeeds.ShardPlan(spec.Seed);
        var assets = data.Train.Select(a => new AssetEntry(a.RelativePath, a.Sha256)).ToList();
        var allPaths = Dataset.ListSamples(dataset.Directory);
        int[][] plan;
        try
        {
            plan = ShardPlans.Build(allPaths, assets, spec.Shards, planSeed, spec.EffectiveSharding, dataset.Directory);
        }
        catch (DatasetException e)
        {
            throw new JobSpecException([$"{sourceName}: sharding: {e.Message}"]);
        }

        // A render-pairs run also records the source EXR files of the frames it trains on, so lineage reaches the renders.
        IReadOnlyList<AssetEntry> recorded = render is null
            ? assets
            : [.. assets, .. render.SourcesOf(data.Train.Select(a => a.RelativePath)).Select(s => new AssetEntry(s.Path, s.Sha256))];
        var assetsDigest = artifacts.PutJson(AssetList.ToJson(recorded));
        var planDigest = artifacts.PutJson(ShardPlans.ToJson(plan));
        EvaluationRecord? evaluation = null;
        var evaluationIndices = Array.Empty<int>();
        if (data.EvaluationSplit is { } split && data.Evaluation.Count > 0)
        {
            var evalAssets = data.Evaluation.Select(a => new AssetEntry(a.RelativePath, a.Sha256)).ToList();
            evaluation = new EvaluationRecord
            {
                Split = split,
                Samples = evalAssets.Count,
                Digest = TrainingData.DigestOf(data.Evaluation),
                AssetsDigest = artifacts.PutJson(AssetList.ToJson(evalAssets)),
                Metric = d.Kind == DatasetKinds.LabelledImages ? "accuracy" : "psnr",
            };
            evaluationIndices = ShardPlans.IndicesOf(allPaths, evalAssets);
        }

        var manifest = new RunManifest
        {
            RunId = runId,
            Name = spec.Name,
            State = RunStates.Queued,
            SubmittedBy = submittedBy,
            SubmittedAt = now,
            Spec = spec,
            Recipe = spec.Recipe,
            Dataset = new DatasetRecord
            {
                Name = d.Name,
                Version = d.Version,
                Licence = d.Licence,
                Owner = d.Owner,
                Consent = d.Consent,
                Rights = new Dictionary<string, RightsAssertion>(d.Rights),
                Digest = dataset.Digest,
                Path = dataset.Directory,
                Samples = data.Train.Count,
                AssetsDigest = assetsDigest,
                HeldOut = data.HeldOut.Count == 0 ? null : data.HeldOut
                    .OrderBy(h => h.Key, StringComparer.Ordinal)
                    .Select(h => new SplitRecord { Name = h.Key, Samples = h.Value.Count, Digest = TrainingData.DigestOf(h.Value) })
                    .ToList(),
                DroppedDuplicates = data.DroppedDuplicates > 0 ? data.DroppedDuplicates : null,
                Render = render is null ? null : new RenderRecord
                {
                    Input = render.Input,
                    Target = render.Target,
                    Patch = render.Patch,
                    Stride = render.Stride,
                    SplitBy = render.SplitBy,
                    Frames = render.Frames.Count,
                },
            },
            Code = new CodeRecord
            {
                RmtcVersion = typeof(RunPreparation).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "",
                Runtime = RuntimeInformation.FrameworkDescription,
                Os = RuntimeInformation.OSDescription,
                // Filled in from the agent that builds the initial weights (its trainer's TorchSharp).
                TorchSharpVersion = "",
                ModelDigest = modelFile?.Digest,
                ModelBytes = modelFile?.Bytes,
            },
            Seeds = new SeedRecord { Run = spec.Seed, Init = initSeed, ShardPlan = planSeed },
            // Both set when the prepare task's weights are stored.
            InitialWeightsDigest = "",
            LicenceClosure = closure,
            ShardPlan = new ShardPlanRecord { Strategy = spec.EffectiveSharding, Digest = planDigest },
            Evaluation = evaluation,
        };
        return new PreparedRun(manifest, spec, plan, recorded, evaluationIndices);
    }
}
