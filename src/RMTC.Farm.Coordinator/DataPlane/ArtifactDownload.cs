using Microsoft.AspNetCore.Http;
using RMTC.Farm.Coordinator.Metrics;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Digests;

namespace RMTC.Farm.Coordinator.DataPlane;

/// <summary>
/// <c>GET</c> and <c>HEAD /artifacts/sha256/&lt;hex&gt;</c>: an artifact's bytes, whole or one range (<c>Range: bytes=N-</c>
/// resumes a cut fetch), read from the store straight into the connection's send buffers: no copy of the file is held,
/// whatever its size.
/// </summary>
internal static class ArtifactDownload
{
    /// <summary>Bytes read from the store per step: large enough that a read costs little, small enough to stay cached.</summary>
    private const int StepBytes = 1 << 20;

    public static async Task HandleAsync(HttpContext context, string hex, IArtifactStore store, FarmMetrics metrics)
    {
        var request = context.Request;
        var response = context.Response;
        if (!Sha256Digest.IsValid(hex))
        {
            await DataPlaneProblem.WriteAsync(context, StatusCodes.Status400BadRequest, $"'{hex}' is not a sha256 digest (64 lowercase hex characters)");
            return;
        }

        if (!ArtifactKinds.TryParse(request.Query["kind"], out var kind, out var kindProblem))
        {
            await DataPlaneProblem.WriteAsync(context, StatusCodes.Status400BadRequest, kindProblem);
            return;
        }

        Stream file;
        try
        {
            file = store.OpenRead(hex, kind);
        }
        catch (ArtifactNotFoundException)
        {
            await DataPlaneProblem.WriteAsync(context, StatusCodes.Status404NotFound, $"no {ArtifactKinds.Describe(kind)} with digest {hex} in the artifact store");
            return;
        }

        await using (file)
        {
            var size = file.Length;
            var etag = $"\"{hex}\"";
            response.Headers.AcceptRanges = "bytes";
            response.Headers.ETag = etag;
            // The name is the content's hash: the bytes never change.
            response.Headers.CacheControl = "public, max-age=31536000, immutable";
            response.ContentType = "application/octet-stream";

            var ifRange = request.Headers.IfRange.ToString();
            var satisfiable = true;
            // If-Range names the content the client holds part of: another content (impossible by digest) gets it whole.
            var range = ifRange.Length == 0 || ifRange == etag ? ByteRange.FromRangeHeader(request.Headers.Range, size, out satisfiable) : null;
            if (!satisfiable)
            {
                response.Headers.ContentRange = $"bytes */{size}";
                await DataPlaneProblem.WriteAsync(context, StatusCodes.Status416RangeNotSatisfiable, $"range '{request.Headers.Range}' starts past the end of the {size}-byte artifact");
                return;
            }

            var span = range ?? new ByteRange(0, size - 1);
            if (range is { } r)
            {
                response.StatusCode = StatusCodes.Status206PartialContent;
                response.Headers.ContentRange = r.ContentRange(size);
            }

            response.ContentLength = size == 0 ? 0 : span.Length;
            if (HttpMethods.IsHead(request.Method) || size == 0)
            {
                return;
            }

            var sent = await CopyAsync(file, span, response, context.RequestAborted);
            metrics.WeightsTransferred(sent, "fetch");
        }
    }

    /// <summary>Reads the span into the response pipe's own buffers, flushing each step (the pipe applies back-pressure).</summary>
    private static async Task<long> CopyAsync(Stream file, ByteRange span, HttpResponse response, CancellationToken ct)
    {
        var writer = response.BodyWriter;
        file.Position = span.From;
        var left = span.Length;
        while (left > 0)
        {
            var memory = writer.GetMemory(StepBytes);
            var want = (int)Math.Min(left, memory.Length);
            var read = await file.ReadAsync(memory[..want], ct);
            if (read == 0)
            {
                throw new IOException($"the artifact ended {left} bytes early while being sent");
            }

            writer.Advance(read);
            left -= read;
            var flushed = await writer.FlushAsync(ct);
            if (flushed.IsCanceled || flushed.IsCompleted)
            {
                break;
            }
        }

        return span.Length - left;
    }
}
