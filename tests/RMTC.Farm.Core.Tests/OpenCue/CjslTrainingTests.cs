using RMTC.Farm.Core.Jobs;
using RMTC.Farm.Core.OpenCue;

namespace RMTC.Farm.Core.Tests.OpenCue;

public sealed class CjslTrainingTests
{
    private static readonly string[] Recipes = ["denoiser", "classifier"];

    private static IReadOnlyList<JobSpec> Map(string xml, string? baseDirectory = "/farm/examples") =>
        CjslTraining.ToJobSpecs(CjslParser.Parse(xml, "job.xml"), "job.xml", baseDirectory, Recipes);

    private static string Error(string xml, string? baseDirectory = "/farm/examples") =>
        Assert.Throws<JobSpecException>(() => Map(xml, baseDirectory)).Message;

    [Fact]
    public void A_training_layer_becomes_a_run_with_one_shard_per_frame()
    {
        var spec = Assert.Single(Map(CjslSamples.Training(
            range: "1-10x2",
            layerBody: "<cores>2.0</cores><memory>4</memory><gpus>1</gpus><gpu_memory>8g</gpu_memory><tags>gpu | lighting</tags>")));

        Assert.Equal("rnd-denoise-alice_train_denoiser", spec.Name);
        Assert.Equal(("denoiser", "/farm/datasets/patches", 5, 3, 42L, 2), (spec.Recipe, spec.Dataset, spec.Shards, spec.Rounds, spec.Seed, spec.MaxRetries));
        Assert.Equal((1, 8192L, 4096L, 2.0), (spec.Resources.Gpus, spec.Resources.GpuMemoryMiB, spec.Resources.MemoryMiB, spec.Resources.Cores));
        Assert.Equal(["gpu", "lighting"], spec.Resources.Tags);
        var origin = spec.OpenCue!;
        Assert.Equal(("rnd", "denoise", "alice", 1000, "train", "1-10x2"), (origin.Show, origin.Shot, origin.User, origin.Uid!.Value, origin.Layer, origin.Range));
    }

    [Fact]
    public void Flags_win_over_layer_env_which_wins_over_job_env()
    {
        var spec = Map(CjslSamples.Training(
            cmd: "/opt/rmtc/bin/rmtc train --recipe denoiser --dataset=/data/p --epochs 3 --merge nesterov --accept-constraint 'internal R&amp;D only'",
            jobBody: "<env><key name=\"RMTC_EPOCHS\">1</key><key name=\"RMTC_BATCH_SIZE\">8</key><key name=\"RMTC_LEARNING_RATE\">0.5</key><key name=\"HOME\">/x</key></env>",
            layerBody: "<env><key name=\"RMTC_BATCH_SIZE\">16</key></env>")).Single();

        Assert.Equal((3, 16, 0.5), (spec.Local.Epochs, spec.Local.BatchSize, spec.Local.LearningRate));
        Assert.Equal(("/data/p", MergeStrategies.Nesterov), (spec.Dataset, spec.Merge.Strategy));
        Assert.Equal(["internal R&D only"], spec.Rights!.AcceptConstraints);
    }

    [Fact]
    public void The_optimiser_schedule_and_augmentation_are_flags_as_in_a_yaml_local_block()
    {
        var spec = Map(CjslSamples.Training(
            cmd: "rmtc train --recipe classifier --dataset /d --optimizer sgd --sgd-momentum 0.9 --weight-decay 0.0001 --learning-rate 0.05 --learning-rate-schedule cosine --final-learning-rate 0.0005 --augment flip-rotate --momentum 0.5",
            layerBody: "<env><key name=\"RMTC_SGD_MOMENTUM\">0.8</key></env>")).Single();

        Assert.Equal(("sgd", 0.9, 0.0001), (spec.Local.Optimizer, spec.Local.Momentum, spec.Local.WeightDecay));
        Assert.Equal(("cosine", 0.0005, "flip-rotate"), (spec.Local.LearningRateSchedule, spec.Local.FinalLearningRate, spec.Local.Augment));
        // --momentum stays the merge's (server) momentum.
        Assert.Equal(0.5, spec.Merge.Momentum);
        Assert.Equal(3, Map(CjslSamples.Training(cmd: "rmtc train --recipe classifier --dataset /d --rounds 6 --rounds-per-epoch 3")).Single().Local.RoundsPerEpoch);
        var plain = Map(CjslSamples.Training(cmd: "rmtc train --recipe classifier --dataset /d")).Single().Local;
        Assert.Equal(new LocalTrainingSpec { Epochs = plain.Epochs, BatchSize = plain.BatchSize, LearningRate = plain.LearningRate }, plain);
    }

    [Theory]
    [InlineData("--optimizer rmsprop", "unknown optimizer 'rmsprop': use adam or sgd")]
    [InlineData("--sgd-momentum 0.9", "`--sgd-momentum` applies to `--optimizer sgd` (adam has its own): add `--optimizer sgd` or remove `--sgd-momentum`")]
    [InlineData("--final-learning-rate 0.001", "`--final-learning-rate` is where a decaying schedule ends: add `--learning-rate-schedule cosine` or remove it")]
    [InlineData("--learning-rate-schedule cosine --learning-rate 0.01 --final-learning-rate 0.1", "`--final-learning-rate` (0.1) is above `--learning-rate` (0.01): the schedule only decays; lower it")]
    [InlineData("--learning-rate-schedule step", "unknown schedule 'step': use constant or cosine")]
    [InlineData("--augment mirror", "unknown augmentation 'mirror': use none or flip-rotate")]
    [InlineData("--weight-decay 2", "--weight-decay must be a number at least 0 and at most 1 (got '2')")]
    [InlineData("--rounds 3 --rounds-per-epoch 2", "`--rounds 3` must be whole epochs with `--rounds-per-epoch 2`: use a multiple of 2 rounds, e.g. 4")]
    [InlineData("--rounds 4 --epochs 2 --rounds-per-epoch 2", "`--rounds-per-epoch 2` spreads one epoch over 2 rounds, so a round trains part of an epoch: set `--epochs 1` (got 2) or remove `--rounds-per-epoch`")]
    public void Local_training_flags_are_checked_as_a_yaml_local_block_is(string flags, string expected)
    {
        var error = Error(CjslSamples.Training(cmd: "rmtc train --recipe classifier --dataset /d " + flags));
        Assert.Contains("job.xml:15: layer 'train': " + expected, error);
    }

    [Fact]
    public void Settings_may_come_from_env_alone()
    {
        var spec = Map(CjslSamples.Training(cmd: "rmtc train",
            layerBody: "<env><key name=\"RMTC_RECIPE\">classifier</key><key name=\"RMTC_DATASET\">/data/patterns</key><key name=\"RMTC_ROUNDS\">5</key></env>")).Single();
        Assert.Equal(("classifier", "/data/patterns", 5), (spec.Recipe, spec.Dataset, spec.Rounds));
    }

    [Fact]
    public void Pyoutlines_render_layers_and_depends_are_refused_with_what_to_write_instead()
    {
        var error = Error(CjslSamples.PyOutlineTwoLayers);
        Assert.Contains("layer 'prep': only training layers run on this farm: its <cmd> must be `rmtc train --recipe R --dataset D ...` (got '/bin/prep.sh #IFRAME#')", error);
        Assert.Contains("layer 'render': only training layers run on this farm", error);
        Assert.Contains("<depend type=\"FRAME_BY_FRAME\">: dependencies are not supported for training jobs", error);
    }

    [Fact]
    public void An_empty_depends_as_pyoutline_always_writes_is_fine() =>
        Assert.Single(Map(CjslSamples.Training(depends: "<depends />")));

    [Theory]
    [InlineData("rmtc train --dataset /d", "--recipe is required (in <cmd>, or RMTC_RECIPE in <env>)")]
    [InlineData("rmtc train --recipe painter --dataset /d", "unknown recipe 'painter': use one of denoiser, classifier")]
    [InlineData("rmtc train --recipe denoiser --dataset /d --rounds zero", "--rounds must be a whole number from 1 to")]
    [InlineData("rmtc train --recipe denoiser --dataset /d --momentum 1", "--momentum must be a number at least 0 and below 1 (got '1')")]
    [InlineData("rmtc train --recipe denoiser --dataset /d --shards 4", "unknown flag --shards: use --recipe, --dataset")]
    [InlineData("rmtc train --recipe denoiser --dataset /d/#IFRAME#", "#IFRAME#, #FRAME# and #FRAMESPEC# cannot be used")]
    [InlineData("rmtc train --recipe denoiser --dataset /d --seed", "--seed needs a value")]
    [InlineData("rmtc train --recipe denoiser --dataset /d --recipe classifier", "--recipe is given 2 times")]
    public void Bad_training_commands_name_the_flag_and_the_fix(string cmd, string expected)
    {
        var error = Error(CjslSamples.Training(cmd: cmd));
        Assert.Contains("job.xml:15: layer 'train': ", error);
        Assert.Contains(expected, error);
    }

    [Fact]
    public void Chunks_bigger_than_one_frame_are_refused()
    {
        var xml = CjslSamples.Training().Replace("<chunk>1</chunk>", "<chunk>2</chunk>", StringComparison.Ordinal);
        Assert.Contains("<chunk> must be 1 for a training layer: each frame is one shard (got 2)", Error(xml));
    }

    [Fact]
    public void Over_the_wire_a_relative_dataset_path_is_refused()
    {
        Assert.Contains("--dataset '../datasets/patches' must be an absolute path", Error(CjslSamples.Training(), baseDirectory: null));
        Assert.Equal("/data/p", Map(CjslSamples.Training(cmd: "rmtc train --recipe denoiser --dataset /data/p"), baseDirectory: null)[0].Dataset);
    }

    [Fact]
    public void Two_training_layers_in_one_job_are_refused()
    {
        var xml = CjslSamples.Training().Replace("</layers>", """
            <layer name="train2" type="Render"><cmd>rmtc train --recipe denoiser --dataset /d</cmd><range>1-2</range><chunk>1</chunk></layer></layers>
            """, StringComparison.Ordinal);
        Assert.Contains("a job holds one training layer, this one has 2 (train, train2): put each in its own <job>", Error(xml));
    }

    [Fact]
    public void Paused_and_priority_are_kept_for_the_scheduler()
    {
        var xml = CjslSamples.Training().Replace("<paused>False</paused>", "<paused>True</paused>", StringComparison.Ordinal);
        Assert.True(Map(xml)[0].OpenCue!.Paused);
    }
}

public sealed class CjslExampleTests
{
    [Fact]
    public void The_example_spec_in_farm_examples_maps_to_a_four_shard_denoiser_run()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "RMTC.Farm.sln")))
        {
            dir = dir.Parent;
        }

        var file = Path.Combine(dir!.FullName, "farm", "examples", "opencue", "train-denoiser.xml");
        var spec = CjslTraining.ToJobSpecs(CjslParser.Parse(File.ReadAllText(file), "train-denoiser.xml"), "train-denoiser.xml", Path.GetDirectoryName(file), ["denoiser"]).Single();
        Assert.Equal(("rnd-denoise-wrangler_train_denoiser", "denoiser", 4, 3), (spec.Name, spec.Recipe, spec.Shards, spec.Rounds));
        Assert.Equal(Path.Combine(dir.FullName, "farm", "datasets", "patches"), spec.Dataset);
        Assert.Equal(0.02, spec.Local.LearningRate);
    }
}
