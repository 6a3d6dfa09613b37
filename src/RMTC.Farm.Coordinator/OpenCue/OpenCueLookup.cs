using System.Text.RegularExpressions;
using Grpc.Core;
using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Coordinator.Security;
using RMTC.Farm.Core.OpenCue;
using RMTC.Farm.Protos.OpenCue;

namespace RMTC.Farm.Coordinator.OpenCue;

/// <summary>
/// How every OpenCue service finds jobs, layers and frames in the published farm view (never under the scheduler's
/// lock), held to the caller's shows when submit hosts are listed: another show's job is refused by name
/// (PermissionDenied), and searches leave it out.
/// </summary>
public sealed class OpenCueLookup(FarmScheduler scheduler)
{
    /// <summary>The farm as published now.</summary>
    public FarmView View => scheduler.View;

    /// <summary>A job reference as pycue sends it: a Job message with at least its id or its name; refused when not the caller's show's.</summary>
    public RunView Resolve(Job? job, string action, ServerCallContext context) =>
        Permitted(
            job is null ? throw NotFound("no job given")
            : job.Id.Length > 0 ? ById(job.Id)
            : ByName(job.Name, context),
            action,
            context);

    /// <summary>
    /// The run, when the caller may act on its show; otherwise PermissionDenied rather than NotFound, as for wranglers
    /// (<see cref="ShowScope"/>): run ids and OpenCue job names are not secret. A wrangler token, when the call presents
    /// one, must be for the job's show as well.
    /// </summary>
    public static RunView Permitted(RunView run, string action, ServerCallContext context)
    {
        var show = run.Spec.EffectiveShow;
        if (context.OpenCueCaller() is { } caller && !caller.MayAct(show))
        {
            throw caller.Refuse($"{action} job '{OpenCueMessages.NameOf(run)}' ({run.Id})", show);
        }

        // A call that presents a wrangler token is recorded in that wrangler's name, so it is held to the token's shows too.
        if (context.Wrangler() is { } wrangler && !wrangler.MayAccess(show))
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied,
                $"{action} job '{OpenCueMessages.NameOf(run)}' ({run.Id}): it is {(show is null ? "in no show" : $"in show '{show}'")}, and the wrangler token presented ({wrangler.User}) is for {wrangler.ShowList} only"));
        }

        return run;
    }

    /// <summary>The runs a search may return: every run, or only the caller's shows' when submit hosts are listed.</summary>
    public IEnumerable<RunView> Visible(ServerCallContext context) => Visible(View, context);

    /// <summary>The runs of <paramref name="view"/> a search may return.</summary>
    public static IEnumerable<RunView> Visible(FarmView view, ServerCallContext context) =>
        context.OpenCueCaller() is { } caller ? view.Runs.Where(r => caller.MayAct(r.Spec.EffectiveShow)) : view.Runs;

    /// <summary>A run by its exact id.</summary>
    public RunView ById(string id) =>
        (id.Length > 0 ? View.Find(id) : null) is { } run && run.Id == id
            ? run
            : throw NotFound($"Failed to find job data: no job with id '{id}'");

    /// <summary>
    /// The pending job of that name or, unlike Cuebot, the newest finished one, so a finished run can still be found.
    /// The caller's shows' jobs come first, so another show's job of the same name does not hide one of theirs.
    /// </summary>
    public RunView ByName(string name, ServerCallContext context)
    {
        var caller = context.OpenCueCaller();
        var runs = View.Runs.Where(r => OpenCueMessages.NameOf(r) == name)
            .OrderBy(r => caller is null || caller.MayAct(r.Spec.EffectiveShow) ? 0 : 1).ToList();
        return runs.FirstOrDefault(r => !r.IsFinal) ?? runs.FirstOrDefault()
            ?? throw NotFound($"Failed to find job data: no job named '{name}' (names are conformed: show-shot-user_name, lower case)");
    }

    /// <summary>The run of a layer or frame id (<c>RUN/LAYER</c>, <c>RUN/NUMBER</c>) and the part after the run's id.</summary>
    public (RunView Run, string Part) ByChildId(string id, string what, string action, ServerCallContext context)
    {
        var slash = id.LastIndexOf('/');
        if (slash <= 0 || slash == id.Length - 1 || View.Find(id[..slash]) is not { } run || run.Id != id[..slash])
        {
            throw NotFound($"Failed to find {what} data: no {what} with id '{id}' ({what} ids are JOB_ID/{(what == "frame" ? "FRAME_NUMBER" : "LAYER_NAME")})");
        }

        return (Permitted(run, action, context), id[(slash + 1)..]);
    }

    /// <summary>The run's one layer, when <paramref name="layer"/> names it.</summary>
    public static void CheckLayer(RunView run, string layer)
    {
        if (layer != OpenCueMessages.LayerNameOf(run))
        {
            throw NotFound($"Failed to find layer data: job '{OpenCueMessages.NameOf(run)}' has one layer, '{OpenCueMessages.LayerNameOf(run)}', not '{layer}'");
        }
    }

    /// <summary>A frame of the run by its number.</summary>
    public static Frame FrameOf(RunView run, int number) =>
        OpenCueMessages.ToFrames(run).FirstOrDefault(f => f.Number == number)
            ?? throw NotFound($"Failed to find frame data: job '{OpenCueMessages.NameOf(run)}' has no frame {number} (its range is {OpenCueMessages.ToLayer(run).Range})");

    /// <summary>The run's frames that match OpenCue's frame search criteria (ids, names, layers, states, range, page and limit).</summary>
    public static IEnumerable<Frame> Search(RunView run, FrameSearchCriteria? criteria)
    {
        var r = criteria ?? new FrameSearchCriteria();
        IReadOnlyList<int>? range = null;
        if (r.FrameRange.Length > 0 && !FrameSet.TryParse(r.FrameRange, out range, out var error))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"frame_range: {error}"));
        }

        var states = r.States?.FrameStates.ToHashSet() ?? [];
        var frames = OpenCueMessages.ToFrames(run).Where(f =>
            (r.Ids.Count == 0 || r.Ids.Contains(f.Id))
            && (r.Frames.Count == 0 || r.Frames.Contains(f.Name))
            && (r.Layers.Count == 0 || r.Layers.Contains(f.LayerName))
            && (states.Count == 0 || states.Contains(f.State))
            && (range is null || range.Contains(f.Number)));
        return r.Limit > 0 ? frames.Skip(Math.Max(0, r.Page - 1) * r.Limit).Take(r.Limit) : frames;
    }

    /// <summary>Regexes of a search, each bounded in time; a bad one is InvalidArgument naming it.</summary>
    public static List<Regex> Regexes(IEnumerable<string> patterns, string field)
    {
        try
        {
            return patterns.Select(p => new Regex(p, RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100))).ToList();
        }
        catch (ArgumentException e)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"{field}: {e.Message}"));
        }
    }

    /// <summary>Cuebot's NOT_FOUND.</summary>
    public static RpcException NotFound(string message) => new(new Status(StatusCode.NotFound, message));
}
