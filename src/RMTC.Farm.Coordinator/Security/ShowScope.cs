using Grpc.Core;

namespace RMTC.Farm.Coordinator.Security;

/// <summary>
/// Show scoping's refusals. Another show's job answers PermissionDenied rather than NotFound: run ids are not secret
/// (they appear in logs, manifests and OpenCue job names), and "not yours" tells the wrangler to ask for access instead
/// of hunting for a job that exists. Listings simply leave other shows' jobs out.
/// </summary>
public static class ShowScope
{
    /// <summary>Refuses a submission to a show the wrangler is not in, or one naming no show (admins: any).</summary>
    public static void CheckSubmit(WranglerIdentity? wrangler, string? show, string source)
    {
        if (wrangler is null || wrangler.IsAdmin)
        {
            return;
        }

        if (show is null)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument,
                $"{source}: show is required on this farm: add `show: <one of yours: {wrangler.ShowList}>` to the spec (OpenCue specs carry it in <show>)"));
        }

        if (!wrangler.Shows.Contains(show))
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied,
                $"{source}: {wrangler.User} may not submit to show '{show}' (their shows: {wrangler.ShowList}); ask the farm admin to add it to their entry in Coordinator:WranglerTokensFile"));
        }
    }

    /// <summary>Refuses a wrangler access to <paramref name="what"/> of <paramref name="show"/> unless it is one of theirs.</summary>
    public static void CheckAccess(WranglerIdentity? wrangler, string? show, string what)
    {
        if (wrangler is not null && !wrangler.MayAccess(show))
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied,
                $"{what} belongs to {(show is null ? "no show (admins only)" : $"show '{show}'")}, not to {wrangler.User}'s shows ({wrangler.ShowList})"));
        }
    }

    /// <summary>Refuses a farm-wide operation to anyone but an admin.</summary>
    public static void CheckAdmin(WranglerIdentity? wrangler, string what)
    {
        if (wrangler is { IsAdmin: false })
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied,
                $"{what} works on every show's runs: only an admin token may run it (ask the farm admin)"));
        }
    }
}
