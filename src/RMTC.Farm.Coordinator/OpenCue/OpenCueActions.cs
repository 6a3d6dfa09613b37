using Grpc.Core;
using Microsoft.AspNetCore.Http;
using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Coordinator.Security;
using RMTC.Farm.Protos.OpenCue;

namespace RMTC.Farm.Coordinator.OpenCue;

/// <summary>
/// What the job, layer and frame services share for OpenCue's frame actions (retry, kill, eat) and job controls: frames
/// mapped to the shards they are, who asked (as the call names them, and from where), and the scheduler's answer
/// turned into Cuebot's status codes with our reason.
/// </summary>
internal static class OpenCueActions
{
    /// <summary>Longest user name or reason taken from a call (the rest is cut): they are recorded in the manifest.</summary>
    private const int MaxNameLength = 128;

    /// <summary>
    /// Who asked: the wrangler whose token the call presents (pycue sends none; a site's wrapper may), else the user the
    /// call's message names (pycue fills <c>username</c> of kills and <c>user</c> of comments from the login name), else
    /// the caller's address. Retries, eats, setPriority and setMaxRetries name nobody in OpenCue's messages.
    /// </summary>
    public static ActionOrigin Origin(ServerCallContext context, string username = "", string pid = "", string host = "", string reason = "")
    {
        var address = Address(context);
        var wrangler = context.Wrangler();
        var details = new[]
        {
            wrangler is not null ? $"wrangler token of {Cut(wrangler.User)}" : "",
            wrangler is not null && username.Length > 0 && username != wrangler.User ? $"the call names user {Cut(username)}" : "",
            host.Length > 0 ? $"host {Cut(host)}" : "",
            pid.Length > 0 ? $"pid {Cut(pid)}" : "",
        }.Where(s => s.Length > 0).ToList();
        return new ActionOrigin(
            wrangler is not null ? Cut(wrangler.User) : username.Length > 0 ? Cut(username) : $"an OpenCue client at {address}",
            $"OpenCue from {address}{(details.Count > 0 ? $" ({string.Join(", ", details)})" : "")}",
            Cut(reason));
    }

    /// <summary>The caller's address (the connection's, not anything the call claims).</summary>
    public static string Address(ServerCallContext context) =>
        context.GetHttpContext().Connection.RemoteIpAddress?.ToString() ?? context.Peer;

    /// <summary>The shards <paramref name="frames"/> of <paramref name="run"/> are, in frame order.</summary>
    public static IReadOnlyList<int> ShardsOf(RunView run, IEnumerable<Frame> frames)
    {
        var numbers = OpenCueMessages.FramesOf(run);
        var byNumber = Enumerable.Range(0, numbers.Count).ToDictionary(i => numbers[i]);
        return frames.Select(f => byNumber[f.Number]).Distinct().ToList();
    }

    /// <summary>The shard a frame number of the run is, or NOT_FOUND naming the layer's range.</summary>
    public static int ShardOf(RunView run, int number)
    {
        var numbers = OpenCueMessages.FramesOf(run);
        for (var i = 0; i < numbers.Count; i++)
        {
            if (numbers[i] == number)
            {
                return i;
            }
        }

        throw OpenCueLookup.NotFound($"Failed to find frame data: job '{OpenCueMessages.NameOf(run)}' has no frame {number} (its range is {OpenCueMessages.ToLayer(run).Range})");
    }

    /// <summary>Runs a frame action and answers as Cuebot would: nothing on success, else our reason with its status code.</summary>
    public static async Task ActAsync(FarmScheduler scheduler, RunView run, ShardAction action, IReadOnlyList<int> shards, ActionOrigin origin, bool strict)
    {
        var numbers = OpenCueMessages.FramesOf(run);
        var layer = OpenCueMessages.LayerNameOf(run);
        var result = await scheduler.ActOnShardsAsync(run.Id, action, shards, origin, strict, i => $"frame {numbers[i]:0000}-{layer}");
        Check(result, run, action switch
        {
            ShardAction.Retry => "retry frames of",
            ShardAction.Kill => "kill frames of",
            _ => "eat frames of",
        });
    }

    /// <summary>Nothing when done; otherwise FAILED_PRECONDITION, INVALID_ARGUMENT or NOT_FOUND naming the job and why.</summary>
    public static void Check(RunActionResult result, RunView run, string what)
    {
        var code = result.Verdict switch
        {
            RunActionVerdict.Done => StatusCode.OK,
            RunActionVerdict.Invalid => StatusCode.InvalidArgument,
            RunActionVerdict.NotFound => StatusCode.NotFound,
            _ => StatusCode.FailedPrecondition,
        };
        if (code != StatusCode.OK)
        {
            throw new RpcException(new Status(code, $"Failed to {what} job '{OpenCueMessages.NameOf(run)}' ({run.Id}): {result.Reason}"));
        }
    }

    private static string Cut(string text) => text.Length <= MaxNameLength ? text : text[..MaxNameLength];
}
