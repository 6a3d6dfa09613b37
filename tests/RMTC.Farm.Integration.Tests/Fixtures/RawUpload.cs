using Google.Protobuf;
using Grpc.Core;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Integration.Tests.Fixtures;

/// <summary>Uploads bytes as a shard result the way a misbehaving agent would: whatever header it is given, no checks.</summary>
public static class RawUpload
{
    /// <summary>Streams <paramref name="bytes"/> after <paramref name="header"/> in 64 KiB chunks and returns the coordinator's answer.</summary>
    public static async Task<UploadResultResponse> SendAsync(AgentService.AgentServiceClient agents, UploadHeader header, byte[] bytes)
    {
        using var call = agents.UploadResult();
        await call.RequestStream.WriteAsync(new UploadResultRequest { Header = header });
        try
        {
            foreach (var chunk in bytes.Chunk(64 * 1024))
            {
                await call.RequestStream.WriteAsync(new UploadResultRequest { Chunk = ByteString.CopyFrom(chunk) });
            }

            await call.RequestStream.CompleteAsync();
        }
        catch (Exception e) when (e is InvalidOperationException || e is RpcException { StatusCode: StatusCode.OK })
        {
            // The coordinator answered before the last chunk (a refusal, or OK for a duplicate): its status is in the
            // response, and a write racing that answer fails with status OK.
        }

        return await call.ResponseAsync;
    }
}
