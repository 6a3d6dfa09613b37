using RMTC.Farm.Core.Trainer;
using RMTC.Farm.Core.Training;

namespace RMTC.Farm.Core.Tests.Trainer;

/// <summary>The trainer protocol between <c>rmtc shard run</c> and its agent: every message, versions, lines that are not messages.</summary>
public sealed class TrainerProtocolTests
{
    private static readonly TrainerMessage[] EveryMessage =
    [
        new TrainerHello(TrainerProtocol.Version, "1.4.0+abc"),
        new TrainerHello(TrainerProtocol.Version, null),
        new TrainerStarted(0.042, Warm: true),
        new TrainerProgress(new TrainingProgress(2, 3, 640, 960, 0.125)),
        new TrainerResult(new ShardResult { Samples = 320, FinalLoss = 0.031, EpochLosses = [0.5, 0.1, 0.031], Seconds = 4.25, Device = "cuda:0" }),
        new TrainerResult(new ShardResult { Samples = 0, FinalLoss = 0, EpochLosses = [], Seconds = 0.75, Device = "cpu", TorchSharpVersion = "0.107.0" }),
        new TrainerEvaluation(new EvaluationFigures { Loss = 0.2, Accuracy = 0.93, Samples = 100, Seconds = 1.5, Device = "cpu" }),
        new TrainerEvaluation(new EvaluationFigures { Loss = 0.01, Psnr = 31.5, Samples = 8, Seconds = 0.5, Device = "cuda:1" }),
        new TrainerCheckpoint(new ShardYieldReport(2, 7, 1184, 1920), "/work/shards/l-1/checkpoint.safetensors"),
        new TrainerCheckpoint(new ShardYieldReport(1, 0, 0, 64), null),
        new TrainerError("IOException: disk full", Refused: false, []),
        new TrainerError("model.pt: output shape [1, 10] does not fit", Refused: true, ["model.pt: output shape [1, 10] does not fit labels of 3 classes"]),
    ];

    [Fact]
    public void Every_message_comes_back_as_it_was_sent_on_one_line_named_by_its_type()
    {
        foreach (var message in EveryMessage)
        {
            var line = TrainerProtocol.Format(message);
            Assert.DoesNotContain('\n', line);
            Assert.StartsWith("{\"type\":\"", line, StringComparison.Ordinal);

            var read = TrainerProtocol.Parse(line);
            Assert.Null(read.Problem);
            Assert.IsType(message.GetType(), read.Message);
            Assert.Equivalent(message, read.Message, strict: true);
        }

        // Every type of this version is among them: a new message must come with its round trip.
        var sent = EveryMessage.Select(m => TrainerProtocol.Format(m)[9..].Split('"')[0]).ToHashSet();
        Assert.Equal(TrainerProtocol.Types.Order(), sent.Order());
    }

    [Fact]
    public void A_loss_that_is_not_a_number_still_travels()
    {
        var read = TrainerProtocol.Parse(TrainerProtocol.Format(new TrainerProgress(new TrainingProgress(1, 1, 32, 64, double.NaN))));
        Assert.True(double.IsNaN(Assert.IsType<TrainerProgress>(read.Message).Progress.Loss));
    }

    [Fact]
    public void The_writer_starts_with_its_hello_and_flushes_each_message_as_a_line()
    {
        var output = new FlushCountingWriter();
        var writer = new TrainerMessageWriter(output);
        writer.WriteHello("9.9.9");
        writer.Write(EveryMessage[3]);

        Assert.Equal(2, output.Flushes);
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(new TrainerHello(TrainerProtocol.Version, "9.9.9"), TrainerProtocol.Parse(lines[0]).Message);
        Assert.IsType<TrainerProgress>(TrainerProtocol.Parse(lines[1]).Message);
    }

    [Fact]
    public void Messages_written_from_many_threads_never_share_a_line()
    {
        var output = new StringWriter();
        var writer = new TrainerMessageWriter(TextWriter.Synchronized(output));
        Parallel.For(0, 200, i => writer.Write(new TrainerProgress(new TrainingProgress(1, 1, i, 200, i / 10.0))));

        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(200, lines.Length);
        Assert.All(lines, l => Assert.IsType<TrainerProgress>(TrainerProtocol.Parse(l).Message));
    }

    [Fact]
    public async Task The_reader_hands_back_the_trainers_messages_in_order_after_its_hello()
    {
        var reader = Reader(new TrainerHello(TrainerProtocol.Version, "1.0"), EveryMessage[3], EveryMessage[4]);

        Assert.IsType<TrainerHello>((await reader.ReadAsync())!.Value.Message);
        Assert.Equal("1.0", reader.Hello!.Rmtc);
        Assert.IsType<TrainerProgress>((await reader.ReadAsync())!.Value.Message);
        Assert.IsType<TrainerResult>((await reader.ReadAsync())!.Value.Message);
        Assert.Null(await reader.ReadAsync());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(0)]
    [InlineData(-1)]
    public async Task A_trainer_speaking_another_version_is_refused_naming_both_versions_and_the_fix(int version)
    {
        var reader = Reader(new TrainerHello(version, "0.1.0"), EveryMessage[3]);

        var e = await Assert.ThrowsAsync<TrainerProtocolMismatchException>(async () => await reader.ReadAsync());
        Assert.Equal(version, e.TrainerVersion);
        Assert.Contains($"trainer protocol {version} (rmtc 0.1.0)", e.Message);
        Assert.Contains($"this agent speaks {TrainerProtocol.Version}", e.Message);
        Assert.Contains("same rmtc installation", e.Message);
        Assert.Contains("Agent:TrainerExecutable", e.Message);
    }

    [Fact]
    public async Task A_trainer_from_before_versions_is_refused_as_version_0()
    {
        var reader = new TrainerMessageReader(new StringReader("{\"ready\":true}\n{\"progress\":{\"epoch\":1}}\n"));

        var e = await Assert.ThrowsAsync<TrainerProtocolMismatchException>(async () => await reader.ReadAsync());
        Assert.Equal(0, e.TrainerVersion);
        Assert.Contains("trainer protocol 0 but this agent speaks 2", e.Message);
    }

    [Theory]
    [InlineData("Loading libtorch...", "not JSON: Loading libtorch...")]
    [InlineData("{\"type\":\"progress\"", "not JSON: {\"type\":\"progress\"")]
    [InlineData("[1,2,3]", "not a JSON object: [1,2,3]")]
    [InlineData("{\"progress\":{\"epoch\":1}}", "no \"type\" naming the message")]
    [InlineData("{\"type\":7}", "no \"type\" naming the message")]
    [InlineData("{\"type\":\"gpu-temperature\",\"celsius\":80}", "unknown message type \"gpu-temperature\" (protocol 2 knows hello, started, progress, result, evaluation, checkpoint, error)")]
    [InlineData("{\"type\":\"progress\"}", "malformed \"progress\" message")]
    [InlineData("{\"type\":\"progress\",\"progress\":{\"epoch\":1,\"epochs\":2}}", "malformed \"progress\" message")]
    [InlineData("{\"type\":\"result\",\"result\":{\"samples\":\"many\"}}", "malformed \"result\" message")]
    [InlineData("{\"type\":\"error\",\"message\":null,\"refused\":false,\"problems\":[]}", "malformed \"error\" message")]
    [InlineData("", "not JSON: ")]
    public async Task A_line_that_is_no_message_is_reported_with_what_is_wrong_and_reading_goes_on(string line, string problem)
    {
        var hello = TrainerProtocol.Format(new TrainerHello(TrainerProtocol.Version, null));
        var progress = TrainerProtocol.Format(EveryMessage[3]);
        var reader = new TrainerMessageReader(new StringReader($"{hello}\n{line}\n{progress}\n"));

        Assert.IsType<TrainerHello>((await reader.ReadAsync())!.Value.Message);
        var bad = (await reader.ReadAsync())!.Value;
        Assert.Null(bad.Message);
        Assert.Contains(problem, bad.Problem);
        Assert.IsType<TrainerProgress>((await reader.ReadAsync())!.Value.Message);
    }

    [Fact]
    public void A_flood_of_output_is_quoted_short()
    {
        var read = TrainerProtocol.Parse(new string('x', 100_000));
        Assert.True(read.Problem!.Length < 300, read.Problem);
    }

    [Fact]
    public async Task Messages_before_the_hello_and_a_second_hello_are_reported_not_acted_on()
    {
        var reader = Reader(EveryMessage[3], new TrainerHello(TrainerProtocol.Version, null), new TrainerHello(TrainerProtocol.Version, null), EveryMessage[4]);

        var early = (await reader.ReadAsync())!.Value;
        Assert.Null(early.Message);
        Assert.Contains("a \"progress\" message before the trainer's hello", early.Problem);
        Assert.IsType<TrainerHello>((await reader.ReadAsync())!.Value.Message);
        var again = (await reader.ReadAsync())!.Value;
        Assert.Null(again.Message);
        Assert.Contains("a second hello", again.Problem);
        Assert.IsType<TrainerResult>((await reader.ReadAsync())!.Value.Message);
    }

    [Fact]
    public void Fields_in_any_order_and_fields_a_later_trainer_adds_are_read()
    {
        var read = TrainerProtocol.Parse("{\"progress\":{\"loss\":0.5,\"samplesTotal\":10,\"samplesSeen\":5,\"epochs\":1,\"epoch\":1,\"gpu\":3},\"type\":\"progress\",\"at\":\"now\"}");
        Assert.Equal(new TrainingProgress(1, 1, 5, 10, 0.5), Assert.IsType<TrainerProgress>(read.Message).Progress);
    }

    [Fact]
    public void Every_request_of_the_agent_comes_back_as_it_was_sent_on_one_line_named_by_its_type()
    {
        var task = new ShardTask
        {
            RunId = "r-1", Round = 2, Shard = 3, Recipe = "denoiser", DatasetPath = "/farm/data", SampleIndices = [4, 5, 6],
            InitialWeightsPath = "/work/cache/w.safetensors", Seed = -17, OutputPath = "/work/shards/l-1/result.safetensors",
            ResultPath = "/work/shards/l-1/result.json", CheckpointPath = "/work/shards/l-1/checkpoint.safetensors", Threads = 2,
        };
        TrainerRequest[] every = [new TrainerTaskRequest("l-1", task), new TrainerCancelRequest("l-1"), new TrainerYieldRequest("l-1")];
        foreach (var request in every)
        {
            var line = TrainerProtocol.Format(request);
            Assert.DoesNotContain('\n', line);
            var (read, problem) = TrainerProtocol.ParseRequest(line);
            Assert.Null(problem);
            Assert.Equivalent(request, read, strict: true);
        }

        Assert.Equal(TrainerProtocol.RequestTypes.Order(), every.Select(r => TrainerProtocol.Format(r)[9..].Split('"')[0]).Order());
    }

    [Theory]
    [InlineData("hello", "not a trainer request of protocol 2 (one of task, cancel, yield)")]
    [InlineData("{\"type\":\"pause\",\"id\":\"l-1\"}", "not a trainer request of protocol 2")]
    [InlineData("{\"type\":\"task\",\"id\":\"l-1\"}", "not a trainer request of protocol 2")]
    public void A_line_that_is_no_request_is_named_as_such(string line, string problem)
    {
        var (request, said) = TrainerProtocol.ParseRequest(line);
        Assert.Null(request);
        Assert.Contains(problem, said);
    }

    private static TrainerMessageReader Reader(params TrainerMessage[] messages) =>
        new(new StringReader(string.Concat(messages.Select(m => TrainerProtocol.Format(m) + "\n"))));

    private sealed class FlushCountingWriter : StringWriter
    {
        public int Flushes { get; private set; }

        public override void Flush()
        {
            Flushes++;
            base.Flush();
        }
    }
}
