using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using RMTC.Farm.Coordinator.Intake;
using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Core.Digests;
using RMTC.Farm.Protos.DataPlane;

namespace RMTC.Farm.Coordinator.DataPlane;

/// <summary>
/// <c>PUT /artifacts/sha256/&lt;hex&gt;</c>: a result (or checkpoint, or a run's first weights) streamed to the store
/// through <see cref="ResultIntake"/>, fenced by the lease and epoch its <c>Rmtc-Upload</c> header names, checked as the
/// bytes arrive; <c>Content-Range</c> resumes a cut upload from the offset <c>HEAD</c> of the same address reports.
/// </summary>
internal static class ResultUploadEndpoint
{
    public static async Task PutAsync(HttpContext context, string hex, UploadSessions sessions)
    {
        var request = context.Request;
        if (await Parse(context, hex) is not { } parsed)
        {
            return;
        }

        var (header, piece) = parsed;
        if (sessions.Finished(header) is { } earlier)
        {
            // The answer was lost on the way back (or the agent retried a refused upload): say it again, read nothing.
            await AnswerAsync(context, earlier);
            return;
        }

        var session = piece.From == 0 ? sessions.FindOrStart(header) : sessions.Find(UploadSessions.KeyOf(header));
        if (session is null)
        {
            await RestartAsync(context, 0, $"no upload of {hex} for lease {header.LeaseId} is in progress here (it ended, was abandoned after Coordinator:DataPlane:ResumeWindowSeconds, or the coordinator restarted): send it again from byte 0");
            return;
        }

        if (session.Header.TotalBytes != header.TotalBytes)
        {
            await DataPlaneProblem.WriteAsync(context, StatusCodes.Status400BadRequest,
                $"this upload declared {session.Header.TotalBytes} bytes when it started, this request {header.TotalBytes}: resume with the same total, or upload under another digest");
            return;
        }

        await session.TakeOverAsync();
        if (session.Received != piece.From)
        {
            await RestartAsync(context, session.Received, $"the coordinator holds {session.Received} bytes of this upload, not {piece.From}: resume from byte {session.Received}");
            return;
        }

        // The intake bounds the size (by the run's weights) before it reads a byte; Kestrel's own 30 MB cap would cut a model.
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = null;
        }

        var fed = session.Feed(request.BodyReader, piece.Length);
        if (await Task.WhenAny(fed, session.Outcome) == fed)
        {
            var end = await fed;
            if (end != PieceEnd.Complete)
            {
                // The client is gone or a newer request took over: nobody reads this answer.
                context.Response.StatusCode = StatusCodes.Status409Conflict;
                return;
            }

            if (session.Received < header.TotalBytes)
            {
                context.Response.StatusCode = StatusCodes.Status202Accepted;
                context.Response.Headers[DataPlaneWire.UploadOffsetHeader] = session.Received.ToString(CultureInfo.InvariantCulture);
                return;
            }
        }

        IntakeOutcome outcome;
        try
        {
            outcome = await session.Outcome;
        }
        catch (OperationCanceledException)
        {
            await RestartAsync(context, 0, "the upload was abandoned: send it again from byte 0");
            return;
        }

        await AnswerAsync(context, outcome);
    }

    /// <summary><c>HEAD</c> with the upload's header: how many bytes of it the coordinator holds (0 when none).</summary>
    public static void Offset(HttpContext context, string hex, UploadSessions sessions)
    {
        if (!Sha256Digest.IsValid(hex) || !TryReadMetadata(context.Request, out var metadata, out _))
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }

        var key = UploadSessions.KeyOf(ToDomain(metadata, hex, 0));
        context.Response.Headers[DataPlaneWire.UploadOffsetHeader] = (sessions.Find(key)?.Received ?? 0).ToString(CultureInfo.InvariantCulture);
    }

    private static async Task<(ResultUpload Header, ByteRange Piece)?> Parse(HttpContext context, string hex)
    {
        var request = context.Request;
        if (!Sha256Digest.IsValid(hex))
        {
            await DataPlaneProblem.WriteAsync(context, StatusCodes.Status400BadRequest, $"'{hex}' is not a sha256 digest (64 lowercase hex characters): PUT to the address of the bytes' own sha256", "invalid");
            return null;
        }

        if (!TryReadMetadata(request, out var metadata, out var problem))
        {
            await DataPlaneProblem.WriteAsync(context, StatusCodes.Status400BadRequest, problem, "invalid");
            return null;
        }

        if (request.ContentLength is not { } length)
        {
            await DataPlaneProblem.WriteAsync(context, StatusCodes.Status411LengthRequired, "an upload needs Content-Length (the bytes in this request)", "invalid");
            return null;
        }

        var piece = new ByteRange(0, length - 1);
        var total = length;
        if (request.Headers.ContentRange.ToString() is { Length: > 0 } contentRange)
        {
            if (!ByteRange.TryParseContentRange(contentRange, out piece, out total, out problem) || piece.Length != length)
            {
                await DataPlaneProblem.WriteAsync(context, StatusCodes.Status400BadRequest,
                    problem.Length > 0 ? problem : $"Content-Range '{contentRange}' names {piece.Length} bytes, Content-Length {length}: they must agree", "invalid");
                return null;
            }
        }

        return (ToDomain(metadata, hex, total), piece);
    }

    private static bool TryReadMetadata(HttpRequest request, out UploadMetadata metadata, out string problem)
    {
        metadata = new UploadMetadata();
        problem = "";
        var text = request.Headers[DataPlaneWire.UploadHeader].ToString();
        if (text.Length == 0)
        {
            problem = $"an upload needs the {DataPlaneWire.UploadHeader} header: JSON naming lease_id, lease_epoch and agent_id (README, Weights data plane)";
            return false;
        }

        try
        {
            metadata = JsonSerializer.Deserialize<UploadMetadata>(text) ?? metadata;
        }
        catch (JsonException e)
        {
            problem = $"{DataPlaneWire.UploadHeader} is not the upload's JSON ({e.Message})";
            return false;
        }

        if (metadata.LeaseId.Length == 0 || metadata.AgentId.Length == 0)
        {
            problem = $"{DataPlaneWire.UploadHeader} must name lease_id and agent_id";
            return false;
        }

        return true;
    }

    private static ResultUpload ToDomain(UploadMetadata m, string digest, long total) => new(
        m.LeaseId,
        (long)Math.Min(m.LeaseEpoch, long.MaxValue),
        m.AgentId,
        digest,
        total,
        (long)Math.Min(m.Samples, long.MaxValue),
        m.FinalLoss,
        m.EpochLosses,
        m.TrainSeconds,
        m.Device,
        m.Checkpoint,
        m.TorchSharpVersion);

    private static Task RestartAsync(HttpContext context, long offset, string reason)
    {
        context.Response.Headers[DataPlaneWire.UploadOffsetHeader] = offset.ToString(CultureInfo.InvariantCulture);
        return DataPlaneProblem.WriteAsync(context, StatusCodes.Status416RangeNotSatisfiable, reason, "resume");
    }

    /// <summary>The intake's verdict as HTTP: the status says the class, the body the verdict and reason.</summary>
    private static Task AnswerAsync(HttpContext context, IntakeOutcome outcome)
    {
        var (status, verdict) = outcome.Verdict switch
        {
            IntakeVerdict.Accepted => (StatusCodes.Status200OK, DataPlaneAnswer.Accepted),
            IntakeVerdict.Duplicate => (StatusCodes.Status200OK, DataPlaneAnswer.Duplicate),
            IntakeVerdict.Stale => (StatusCodes.Status409Conflict, DataPlaneAnswer.Stale),
            IntakeVerdict.TooLarge => (StatusCodes.Status413PayloadTooLarge, "too-large"),
            IntakeVerdict.Corrupt => (StatusCodes.Status422UnprocessableEntity, "corrupt"),
            IntakeVerdict.Rejected => (StatusCodes.Status422UnprocessableEntity, "rejected"),
            _ => (StatusCodes.Status400BadRequest, "invalid"),
        };
        var reason = outcome.Verdict == IntakeVerdict.Rejected ? "result refused: " + outcome.Reason : outcome.Reason;
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(JsonSerializer.Serialize(new DataPlaneAnswer(verdict, reason, outcome.Digest)), context.RequestAborted);
    }
}
