using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using RMTC.Farm.Coordinator.Intake;
using RMTC.Farm.Coordinator.Scheduling;

namespace RMTC.Farm.Coordinator.DataPlane;

/// <summary>
/// The data plane's uploads in progress, by lease, epoch and digest: a request that resumes a cut upload finds its
/// session here. A session leaves when its intake ends (accepted, refused or abandoned).
/// </summary>
internal sealed class UploadSessions(ResultIntake intake, TimeProvider time, IOptions<DataPlaneOptions> options)
{
    private readonly ConcurrentDictionary<string, UploadSession> _sessions = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (IntakeOutcome Outcome, DateTimeOffset At)> _finished = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    /// <summary>The key of an upload: a resumed request must name the same lease, epoch and content.</summary>
    public static string KeyOf(ResultUpload header) => $"{header.LeaseId}\n{header.LeaseEpoch}\n{header.Digest}";

    /// <summary>The upload in progress under <paramref name="key"/>, or null.</summary>
    public UploadSession? Find(string key) =>
        _sessions.TryGetValue(key, out var session) && !session.Abandoned && !session.Outcome.IsCompleted ? session : null;

    /// <summary>
    /// How the upload of <paramref name="header"/> ended, if it ended within the resume window: an agent whose answer was
    /// lost asks again and gets the same answer, without sending the bytes again.
    /// </summary>
    public IntakeOutcome? Finished(ResultUpload header)
    {
        var key = KeyOf(header);
        if (!_finished.TryGetValue(key, out var done))
        {
            return null;
        }

        if (time.GetUtcNow() - done.At <= Window)
        {
            return done.Outcome;
        }

        _finished.TryRemove(key, out _);
        return null;
    }

    private TimeSpan Window => TimeSpan.FromSeconds(options.Value.ResumeWindowSeconds);

    /// <summary>The upload in progress for <paramref name="header"/>, or a new one starting at byte 0.</summary>
    public UploadSession FindOrStart(ResultUpload header)
    {
        var key = KeyOf(header);
        lock (_gate)
        {
            if (Find(key) is { } running)
            {
                return running;
            }

            var fresh = Start(key, header);
            _sessions[key] = fresh;
            return fresh;
        }
    }

    private UploadSession Start(string key, ResultUpload header)
    {
        var now = time.GetUtcNow();
        foreach (var old in _finished.Where(f => now - f.Value.At > Window).ToArray())
        {
            _finished.TryRemove(old);
        }

        var session = new UploadSession(key, header, time, Window, intake);
        // Leaves the table however it ends; a later request for the same upload then starts afresh (a duplicate by then).
        _ = session.Outcome.ContinueWith(
            ended =>
            {
                lock (_gate)
                {
                    if (ended.IsCompletedSuccessfully)
                    {
                        _finished[key] = (ended.Result, time.GetUtcNow());
                    }

                    _sessions.TryRemove(new KeyValuePair<string, UploadSession>(key, session));
                }

                session.Dispose();
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        return session;
    }
}
