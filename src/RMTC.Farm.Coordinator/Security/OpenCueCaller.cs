using System.Net;
using Grpc.Core;

namespace RMTC.Farm.Coordinator.Security;

/// <summary>A listed submit host calling the OpenCue port, and the shows it may act for.</summary>
/// <param name="Address">The caller's address (the connection's, never a header the client chooses).</param>
/// <param name="Shows">Shows it may launch into, see, and kill, pause or resume jobs of.</param>
public sealed record OpenCueCaller(IPAddress Address, IReadOnlySet<string> Shows)
{
    internal const string Key = "rmtc.opencue-caller";

    /// <summary>True when the caller may act on a job of <paramref name="show"/> (a job with no show: nobody).</summary>
    public bool MayAct(string? show) => show is not null && Shows.Contains(show);

    /// <summary>The shows, for error messages.</summary>
    public string ShowList => string.Join(", ", Shows.Order(StringComparer.Ordinal));

    /// <summary>
    /// The refusal of an action on another show's job, or a launch into it: PermissionDenied, naming the show, the
    /// caller's shows and the setting that grants more (as <see cref="ShowScope"/> answers wranglers).
    /// </summary>
    /// <param name="what">What was refused, e.g. <c>cannot kill job 'x'</c>.</param>
    /// <param name="show">The job's show.</param>
    public RpcException Refuse(string what, string? show) => new(new Status(StatusCode.PermissionDenied,
        $"{what}: it is {(show is null ? "in no show" : $"in show '{show}'")}, and OpenCue calls from {Address} may act for {ShowList} only; the farm admin grants shows to submit hosts in Coordinator:OpenCueSubmitHosts"));
}

/// <summary>The OpenCue caller of a call, set by <see cref="FarmAuthInterceptor"/>.</summary>
public static class OpenCueCallerContext
{
    /// <summary>The submit host of an OpenCue call; null when the port answers anyone for every show (no submit hosts listed).</summary>
    public static OpenCueCaller? OpenCueCaller(this ServerCallContext context) =>
        context.UserState.TryGetValue(Security.OpenCueCaller.Key, out var value) ? value as OpenCueCaller : null;
}
