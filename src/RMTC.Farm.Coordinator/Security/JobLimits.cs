using System.Text;
using Grpc.Core;
using RMTC.Farm.Core.Jobs;

namespace RMTC.Farm.Coordinator.Security;

/// <summary>Size limits on what wranglers and agents send, each answered with ResourceExhausted naming the limit.</summary>
public static class JobLimits
{
    /// <summary>Refuses a job spec longer than <paramref name="maxBytes"/> UTF-8 bytes.</summary>
    public static void CheckSpecSize(string spec, int maxBytes)
    {
        var bytes = Encoding.UTF8.GetByteCount(spec);
        if (bytes > maxBytes)
        {
            throw new RpcException(new Status(StatusCode.ResourceExhausted,
                $"job spec is {bytes} bytes, over the limit of {maxBytes} ({JobSpecLimits.MaxSpecBytesSetting}): a spec names its dataset, it does not carry it"));
        }
    }

    /// <summary>The refusal of an upload declaring more than its run's weights plus headroom; null when it fits.</summary>
    public static string? UploadTooLarge(long declared, long expected, long headroom) =>
        declared > expected + headroom
            ? $"upload declares {declared} bytes; this run's weights are {expected} bytes and at most {expected + headroom} are accepted (Coordinator:UploadHeadroomBytes = {headroom})"
            : null;

    /// <summary>The refusal of a preparation's upload (a run's first weights) declaring more than <paramref name="max"/>; null when it fits.</summary>
    public static string? InitialWeightsTooLarge(long declared, long max) =>
        declared > max
            ? $"upload of a run's first weights declares {declared} bytes, over the limit of {max} (Coordinator:MaxInitialWeightsBytes)"
            : null;

    /// <summary>
    /// The refusal of a checkpoint declaring more than its run's weights four times over (the weights and Adam's two
    /// moments, with room for the optimiser's own framing) plus headroom; null when it fits.
    /// </summary>
    public static string? CheckpointTooLarge(long declared, long expected, long headroom) =>
        declared > 4 * expected + headroom
            ? $"checkpoint declares {declared} bytes; this run's weights are {expected} bytes and a checkpoint may be at most {4 * expected + headroom} (four times the weights plus Coordinator:UploadHeadroomBytes = {headroom})"
            : null;
}
