using Grpc.Core;
using RMTC.Farm.Coordinator.Lineage;
using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Coordinator.Security;
using RMTC.Farm.Core.Digests;
using RMTC.Farm.Core.Json;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Coordinator.Services;

/// <summary>
/// Lineage queries over gRPC: show, verify, trace, impact, export, reindex. With wrangler tokens, a run's lineage is
/// its show's; trace and impact leave out runs of other shows; reindex is an admin's.
/// </summary>
public sealed class LineageGrpcService(LineageQueries queries, FarmScheduler scheduler) : LineageService.LineageServiceBase
{
    /// <summary>How lineage documents are written for <c>--json</c>: indented, 64-bit integers as strings (<see cref="JsonIntegers"/>).</summary>
    private static readonly System.Text.Json.JsonSerializerOptions Indented = new() { WriteIndented = true };

    public override async Task<LineageDocument> Show(LineageRunRequest request, ServerCallContext context) =>
        new() { Json = (await FindAsync(request.RunId, context)).ToJson() };

    public override async Task<VerifyResponse> Verify(LineageRunRequest request, ServerCallContext context)
    {
        var (manifest, events, problems) = await queries.VerifyAsync(await FindAsync(request.RunId, context), context.CancellationToken);
        var response = new VerifyResponse
        {
            RunId = manifest.RunId,
            Ok = problems.Count == 0,
            Events = (ulong)events.Count,
            ManifestDigest = manifest.Seal?.ManifestDigest ?? "",
        };
        response.Problems.AddRange(problems);
        return response;
    }

    public override async Task<LineageDocument> Trace(TraceRequest request, ServerCallContext context)
    {
        var digest = Digest(request.Digest);
        var document = request.Direction switch
        {
            TraceDirection.Up => await queries.TraceUpAsync(digest, context.CancellationToken, MaySee(context)),
            TraceDirection.Down => await queries.TraceDownAsync(digest, context.CancellationToken, MaySee(context)),
            _ => throw new RpcException(new Status(StatusCode.InvalidArgument, "direction must be up (what went into it) or down (what was made from it)")),
        };
        return new LineageDocument { Json = JsonIntegers.ToJsonString(document, Indented) };
    }

    public override async Task<LineageDocument> Impact(ImpactRequest request, ServerCallContext context)
    {
        return new() { Json = JsonIntegers.ToJsonString(await queries.ImpactAsync(Digest(request.AssetDigest), context.CancellationToken, MaySee(context)), Indented) };
    }

    public override async Task<LineageDocument> Export(ExportRequest request, ServerCallContext context)
    {
        if (request.Format is not ("in-toto" or ""))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"unknown export format '{request.Format}': use in-toto"));
        }

        var manifest = await FindAsync(request.RunId, context);
        try
        {
            return new LineageDocument { Json = JsonIntegers.ToJsonString(InTotoExport.Statement(manifest), Indented) };
        }
        catch (InvalidOperationException e)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, e.Message));
        }
    }

    public override async Task<ReindexResponse> Reindex(ReindexRequest request, ServerCallContext context)
    {
        ShowScope.CheckAdmin(context.Wrangler(), "lineage reindex");
        var (runs, entries) = await queries.ReindexAsync(context.CancellationToken);
        return new ReindexResponse { Runs = (uint)runs, Entries = (ulong)entries };
    }

    private async Task<Core.Lineage.RunManifest> FindAsync(string runId, ServerCallContext context)
    {
        var manifest = await queries.FindRunAsync(runId, scheduler.ResolveRunId, context.CancellationToken)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"no run '{runId}' in the lineage store, or it is a prefix of more than one run id: `rmtc status` lists runs"));
        ShowScope.CheckAccess(context.Wrangler(), manifest.Spec?.EffectiveShow, $"run '{manifest.RunId}'");
        return manifest;
    }

    /// <summary>Runs a wrangler may see in farm-wide answers (others are left out); null: every run.</summary>
    private static Func<Core.Lineage.RunManifest, bool>? MaySee(ServerCallContext context) =>
        context.Wrangler() is { IsAdmin: false } wrangler ? m => wrangler.MayAccess(m.Spec?.EffectiveShow) : null;

    private static string Digest(string text)
    {
        var digest = text.StartsWith("sha256:", StringComparison.Ordinal) ? text[7..] : text;
        return Sha256Digest.IsValid(digest)
            ? digest
            : throw new RpcException(new Status(StatusCode.InvalidArgument, $"'{text}' is not a sha256 digest (64 lowercase hex characters, optionally prefixed sha256:)"));
    }
}
