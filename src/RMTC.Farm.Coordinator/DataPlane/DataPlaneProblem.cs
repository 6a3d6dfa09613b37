using System.Text.Json;
using Microsoft.AspNetCore.Http;
using RMTC.Farm.Protos.DataPlane;

namespace RMTC.Farm.Coordinator.DataPlane;

/// <summary>
/// How the data plane answers what it refuses: a status code and a JSON body <c>{"verdict": …, "reason": …}</c> whose
/// reason names what is wrong and how to fix it (agents report it as the attempt's failure).
/// </summary>
internal static class DataPlaneProblem
{
    /// <summary>Writes the refusal; <paramref name="verdict"/> is a machine-readable word (e.g. stale, rejected) or empty.</summary>
    public static Task WriteAsync(HttpContext context, int status, string reason, string verdict = "")
    {
        var response = context.Response;
        response.StatusCode = status;
        response.ContentType = "application/json";
        response.Headers.ContentLength = null;
        return response.WriteAsync(JsonSerializer.Serialize(new DataPlaneAnswer(verdict, reason, "")), context.RequestAborted);
    }
}
