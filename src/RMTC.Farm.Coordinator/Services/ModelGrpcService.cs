using Grpc.Core;
using RMTC.Farm.Coordinator.Models;
using RMTC.Farm.Coordinator.Security;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Coordinator.Services;

/// <summary>
/// ONNX export of run models, and the permission and lineage of inferences made with them, over gRPC. With wrangler
/// tokens, a model is its run's show's, and the user recorded is the token's.
/// </summary>
public sealed class ModelGrpcService(OnnxExports exports) : ModelService.ModelServiceBase
{
    // 64 KiB: chunks stay off the large-object heap, as for weights.
    private const int ChunkBytes = 64 * 1024;

    public override async Task ExportOnnx(ExportOnnxRequest request, IServerStreamWriter<OnnxChunk> responseStream, ServerCallContext context)
    {
        var wrangler = context.Wrangler();
        if (wrangler is { IsAdmin: false })
        {
            var run = await exports.RunOfAsync(request.RunOrDigest, context.CancellationToken);
            ShowScope.CheckAccess(wrangler, run.Spec?.EffectiveShow, $"run '{run.RunId}'");
        }

        var by = wrangler?.User ?? (request.User.Length > 0 ? request.User : context.Peer);
        var (header, content) = await exports.ExportAsync(request.RunOrDigest, by, context.CancellationToken);
        await using var file = content;
        var buffer = new byte[ChunkBytes];
        var first = true;
        int read;
        while ((read = await file.ReadAsync(buffer, context.CancellationToken)) > 0 || first)
        {
            var chunk = new OnnxChunk { Data = Google.Protobuf.ByteString.CopyFrom(buffer, 0, read) };
            if (first)
            {
                chunk.Header = header;
                first = false;
            }

            await responseStream.WriteAsync(chunk, context.CancellationToken);
        }
    }

    public override async Task<InferencePermit> CheckInference(InferenceModelRequest request, ServerCallContext context)
    {
        await ScopeExportAsync(request.OnnxDigest, context);
        return await exports.CheckAsync(request.OnnxDigest, context.CancellationToken);
    }

    public override async Task<RecordInferenceResponse> RecordInference(RecordInferenceRequest request, ServerCallContext context)
    {
        await ScopeExportAsync(request.OnnxDigest, context);
        if (context.Wrangler() is { } wrangler)
        {
            request = new RecordInferenceRequest(request) { User = wrangler.User };
        }

        return await exports.RecordAsync(request, context.CancellationToken);
    }

    private async Task ScopeExportAsync(string onnxDigest, ServerCallContext context)
    {
        if (context.Wrangler() is { IsAdmin: false } wrangler)
        {
            var run = await exports.RunOfExportAsync(onnxDigest, context.CancellationToken);
            ShowScope.CheckAccess(wrangler, run.Spec?.EffectiveShow, $"the model of run '{run.RunId}'");
        }
    }
}
