using Google.Protobuf.WellKnownTypes;
using RMTC.Farm.Coordinator.Runs;
using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Coordinator.Services.Wire;

/// <summary>Runs, their events and submissions between the scheduler's own types and the job service's protobuf.</summary>
internal static class RunWire
{
    public static JobSubmission ToDomain(this SubmitJobRequest r) => new()
    {
        SpecYaml = r.SpecYaml,
        BaseDirectory = r.BaseDirectory,
        SourceName = r.SourceName,
        SubmittedBy = r.SubmittedBy,
    };

    public static JobState ToWire(string state) => state switch
    {
        RunStates.Queued => JobState.Queued,
        RunStates.Running => JobState.Running,
        RunStates.Succeeded => JobState.Succeeded,
        RunStates.Failed => JobState.Failed,
        RunStates.Cancelled => JobState.Cancelled,
        _ => JobState.Unspecified,
    };

    public static Job ToWire(this RunStatus s)
    {
        var job = new Job
        {
            Id = s.Id,
            Name = s.Name,
            State = ToWire(s.State),
            Recipe = s.Recipe,
            Rounds = (uint)s.Rounds,
            Shards = (uint)s.Shards,
            CurrentRound = (uint)s.CurrentRound,
            ShardsDone = (uint)s.ShardsDone,
            ShardsRunning = (uint)s.ShardsRunning,
            ShardsQueued = (uint)s.ShardsQueued,
            FinalModelDigest = s.FinalModelDigest,
            FinalModelTensorsDigest = s.FinalModelTensorsDigest,
            Error = s.Error,
            CreatedAt = Timestamp.FromDateTimeOffset(s.CreatedAt),
            DatasetName = s.DatasetName,
            DatasetDigest = s.DatasetDigest,
            SubmittedBy = s.SubmittedBy,
            WaitingReason = s.WaitingReason,
        };
        if (s.FinishedAt is { } finished)
        {
            job.FinishedAt = Timestamp.FromDateTimeOffset(finished);
        }

        foreach (var r in s.CompletedRounds)
        {
            var summary = new RoundSummary
            {
                Round = (uint)r.Round,
                InputDigest = r.InputDigest,
                OutputDigest = r.OutputDigest,
                MeanLoss = r.MeanLoss,
                Samples = (ulong)r.Samples,
                Seconds = r.Seconds,
            };
            if (r.EvalLoss is { } loss)
            {
                summary.EvalLoss = loss;
                summary.EvalSamples = (uint)r.EvalSamples;
            }

            if (r.EvalAccuracy is { } accuracy)
            {
                summary.EvalAccuracy = accuracy;
            }

            if (r.EvalPsnr is { } psnr)
            {
                summary.EvalPsnr = psnr;
            }

            job.CompletedRounds.Add(summary);
        }

        return job;
    }

    public static JobEvent ToWire(this RunEvent e)
    {
        var wire = new JobEvent
        {
            At = Timestamp.FromDateTimeOffset(e.At),
            JobId = e.RunId,
            Kind = e.Kind,
            Message = e.Message,
            Round = (uint)Math.Max(0, e.Round),
            Shard = e.Shard,
            AgentId = e.AgentId,
            Seq = (ulong)e.Seq,
            Hash = e.Hash,
        };
        if (e.Status is { } status)
        {
            wire.Job = status.ToWire();
        }

        return wire;
    }
}
