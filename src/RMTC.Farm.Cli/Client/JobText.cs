using System.Globalization;
using System.Text;
using Google.Protobuf;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Cli.Client;

/// <summary>Renders jobs for people and for scripts.</summary>
internal static class JobText
{
    private static readonly JsonFormatter Json = new(JsonFormatter.Settings.Default.WithFormatDefaultValues(true));

    public static string ToJson(IMessage message) => Json.Format(message);

    public static string State(JobState state) => state switch
    {
        JobState.Queued => "queued",
        JobState.Running => "running",
        JobState.Succeeded => "succeeded",
        JobState.Failed => "failed",
        JobState.Cancelled => "cancelled",
        _ => "unknown",
    };

    public static string Line(Job j) =>
        string.Create(CultureInfo.InvariantCulture, $"{j.Id,-32} {State(j.State),-10} {j.Recipe,-11} round {j.CurrentRound}/{j.Rounds}  shards {j.ShardsDone}/{j.Shards} done, {j.ShardsRunning} running, {j.ShardsQueued} queued");

    public static string Detail(Job j)
    {
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"job       {j.Id} ({j.Name})");
        sb.AppendLine(CultureInfo.InvariantCulture, $"state     {State(j.State)}{(j.Error.Length > 0 ? ": " + j.Error : "")}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"recipe    {j.Recipe}, {j.Shards} shards x {j.Rounds} rounds");
        sb.AppendLine(CultureInfo.InvariantCulture, $"dataset   {j.DatasetName} sha256:{j.DatasetDigest}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"round     {j.CurrentRound}/{j.Rounds}: {j.ShardsDone} done, {j.ShardsRunning} running, {j.ShardsQueued} queued");
        if (j.WaitingReason.Length > 0)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"waiting   {j.WaitingReason}");
        }

        foreach (var r in j.CompletedRounds)
        {
            var eval = !r.HasEvalLoss ? "" : string.Create(CultureInfo.InvariantCulture,
                $"  eval loss {r.EvalLoss:G4}{(r.HasEvalAccuracy ? $", accuracy {r.EvalAccuracy * 100:F2} %" : "")}{(r.HasEvalPsnr ? $", PSNR {r.EvalPsnr:F2} dB" : "")}");
            sb.AppendLine(CultureInfo.InvariantCulture, $"  round {r.Round}: loss {r.MeanLoss:G5}{eval}  {r.Seconds:F1} s  -> sha256:{r.OutputDigest}");
        }

        if (j.FinalModelDigest.Length > 0)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"model     sha256:{j.FinalModelDigest}");
            if (j.FinalModelTensorsDigest.Length > 0)
            {
                sb.AppendLine(CultureInfo.InvariantCulture, $"tensors   sha256:{j.FinalModelTensorsDigest} (names, dtypes, shapes, bytes: equal for a rerun that trains the same weights)");
            }
        }

        return sb.ToString().TrimEnd();
    }
}
