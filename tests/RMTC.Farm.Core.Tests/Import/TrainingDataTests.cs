using RMTC.Farm.Core.Datasets;
using RMTC.Farm.Core.Datasets.Import;
using RMTC.Farm.Core.Jobs;
using RMTC.Farm.Core.Planning;

namespace RMTC.Farm.Core.Tests.Import;

public sealed class TrainingDataTests : IDisposable
{
    private readonly string _dir = TestFiles.TempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private Dataset Imported(Action<string>? tamper = null)
    {
        var src = Path.Combine(_dir, "src");
        Directory.CreateDirectory(src);
        var train = Enumerable.Range(0, 8 * 4).Select(i => (byte)i).ToArray();
        // The first test image repeats the third training image, with the same label: the same bytes once imported.
        var test = train.AsSpan(2 * 4, 4).ToArray().Concat(new byte[] { 200, 201, 202, 203 }).ToArray();
        File.WriteAllBytes(Path.Combine(src, "train-images-idx3-ubyte"), IdxImportTests.Idx([8, 2, 2], train));
        File.WriteAllBytes(Path.Combine(src, "train-labels-idx1-ubyte"), IdxImportTests.Idx([8], [0, 1, 0, 1, 0, 1, 0, 1]));
        File.WriteAllBytes(Path.Combine(src, "t10k-images-idx3-ubyte"), IdxImportTests.Idx([2, 2, 2], test));
        File.WriteAllBytes(Path.Combine(src, "t10k-labels-idx1-ubyte"), IdxImportTests.Idx([2], [0, 1]));
        var output = Path.Combine(_dir, "out");
        IdxImport.Import(src, output, new DatasetMetadata());
        tamper?.Invoke(output);
        return Dataset.Open(output);
    }

    [Fact]
    public void Test_split_is_held_out_and_disjoint_from_training_by_path_and_by_content()
    {
        var data = TrainingData.Select(Imported(), evaluationSplit: null);

        Assert.Equal(DatasetSplits.Test, data.EvaluationSplit);
        Assert.Equal(2, data.Evaluation.Count);
        Assert.All(data.Evaluation, a => Assert.StartsWith("samples/test/", a.RelativePath));
        Assert.Empty(data.Train.Select(a => a.RelativePath).Intersect(data.Evaluation.Select(a => a.RelativePath)));
        Assert.Empty(data.Train.Select(a => a.Sha256).Intersect(data.Evaluation.Select(a => a.Sha256)));
        // samples/train/000002 has the bytes of samples/test/000000: left out of training, and counted.
        Assert.Equal(1, data.DroppedDuplicates);
        Assert.Equal(7, data.Train.Count);
        Assert.DoesNotContain(data.Train, a => a.RelativePath == "samples/train/000002.safetensors");
    }

    [Fact]
    public void A_split_named_in_the_spec_must_exist_and_none_turns_evaluation_off()
    {
        var dataset = Imported();
        var e = Assert.Throws<DatasetException>(() => TrainingData.Select(dataset, "validation"));
        Assert.Contains("has no split 'validation'", e.Message);
        Assert.Contains("splits: test, train", e.Message);
        Assert.Contains("train split", Assert.Throws<DatasetException>(() => TrainingData.Select(dataset, "train")).Message);

        var none = TrainingData.Select(dataset, TrainingData.NoEvaluation);
        Assert.Null(none.EvaluationSplit);
        Assert.Equal(7, none.Train.Count); // still never trained on
    }

    [Fact]
    public void Nested_split_folders_are_refused_when_read()
    {
        var yaml = "name: x\nkind: labelled-images\nsample_shape: [1, 2, 2]\nclasses: [a, b]\nsplits:\n  test: samples/all/test\n  train: samples/all\n";
        var e = Assert.Throws<DatasetException>(() => Dataset.ParseDescriptor(yaml));
        Assert.Contains("overlap", e.Message);
        Assert.Contains("line 7", e.Message);
    }

    [Fact]
    public void By_label_plan_partitions_every_sample_once_and_each_shard_sees_few_classes()
    {
        var labels = Enumerable.Range(0, 1000).Select(i => (long)(i * 7 % 10)).ToArray();

        var plan = ShardPlanner.PlanByLabel(labels, 4, seed: 3);

        Assert.Equal(Enumerable.Range(0, 1000), plan.SelectMany(p => p).Order());
        Assert.All(plan, p => Assert.InRange(p.Length, 250, 250));
        Assert.All(plan, p => Assert.InRange(p.Select(i => labels[i]).Distinct().Count(), 1, 4));
        Assert.Equal(plan, ShardPlanner.PlanByLabel(labels, 4, seed: 3));
        var iid = ShardPlanner.Plan(1000, 4, 3);
        Assert.All(iid, p => Assert.Equal(10, p.Select(i => labels[i]).Distinct().Count()));
    }

    [Fact]
    public void Spec_sharding_and_evaluation_are_parsed_with_clear_errors()
    {
        var spec = JobSpecParser.Parse("name: a\nrecipe: convnet\ndataset: d\nsharding: by-label\nevaluation: { split: test }\n", "job.yaml", "/data");
        Assert.Equal(ShardingStrategies.ByLabel, spec.Sharding);
        Assert.Equal("test", spec.Evaluation!.Split);
        Assert.Null(JobSpecParser.Parse("name: a\nrecipe: convnet\ndataset: d\n", "job.yaml", "/data").Sharding);

        var e = Assert.Throws<JobSpecException>(() => JobSpecParser.Parse("name: a\nrecipe: convnet\ndataset: d\nsharding: random\nevaluation: { splt: test }\n", "job.yaml", "/data"));
        Assert.Contains(e.Problems, p => p.Contains("job.yaml:4: sharding: unknown sharding 'random': use iid or by-label", StringComparison.Ordinal));
        Assert.Contains(e.Problems, p => p.Contains("evaluation.splt: unknown field 'splt'", StringComparison.Ordinal));
    }
}
