using System.Text;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace RMTC.Farm.Coordinator.Services;

/// <summary>
/// Cuts the text of every error status the coordinator answers to <see cref="MaxDetailBytes"/>. A status travels as
/// the grpc-message HTTP/2 trailer, percent-encoded; one over the client's header limit (16-64 KiB) does not arrive as
/// an error but as a broken connection ("HPackDecodingException"), which the CLI could only report as "no coordinator
/// answers". The services bound their own messages (see <see cref="Core.Jobs.JobSpecException"/>); this is the
/// backstop for any other, so no refusal can ever turn into a transport failure.
/// </summary>
public sealed class BoundedStatusInterceptor : Interceptor
{
    /// <summary>Largest status text sent, UTF-8 bytes (at most three times that once percent-encoded).</summary>
    public const int MaxDetailBytes = 8 * 1024;

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(request, context);
        }
        catch (RpcException e) when (Bound(e) is { } bounded)
        {
            throw bounded;
        }
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(requestStream, context);
        }
        catch (RpcException e) when (Bound(e) is { } bounded)
        {
            throw bounded;
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(request, responseStream, context);
        }
        catch (RpcException e) when (Bound(e) is { } bounded)
        {
            throw bounded;
        }
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(requestStream, responseStream, context);
        }
        catch (RpcException e) when (Bound(e) is { } bounded)
        {
            throw bounded;
        }
    }

    /// <summary>The same status with its text cut to <see cref="MaxDetailBytes"/>, or null when it already fits.</summary>
    public static RpcException? Bound(RpcException e)
    {
        ArgumentNullException.ThrowIfNull(e);
        var detail = e.Status.Detail ?? "";
        var bytes = Encoding.UTF8.GetByteCount(detail);
        if (bytes <= MaxDetailBytes)
        {
            return null;
        }

        return new RpcException(new Status(e.StatusCode, Cut(detail, bytes)), e.Trailers);
    }

    private static string Cut(string detail, int bytes)
    {
        var suffix = $" ... (cut from {bytes} bytes)";
        var sb = new StringBuilder();
        var used = Encoding.UTF8.GetByteCount(suffix);
        foreach (var rune in detail.EnumerateRunes())
        {
            used += rune.Utf8SequenceLength;
            if (used > MaxDetailBytes)
            {
                break;
            }

            sb.Append(rune.ToString());
        }

        return sb.Append(suffix).ToString();
    }
}
