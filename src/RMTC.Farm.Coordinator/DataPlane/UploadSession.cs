using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using RMTC.Farm.Coordinator.Intake;
using RMTC.Farm.Coordinator.Scheduling;

namespace RMTC.Farm.Coordinator.DataPlane;

/// <summary>
/// One result upload over the data plane, alive across the HTTP requests that carry its bytes. The result intake reads
/// it as one stream of chunks (<see cref="ResultIntake.ReceiveAsync"/>: the same fence, size bound, digest and finite
/// checks as a gRPC upload, while the bytes arrive), and the chunks are the request bodies' own buffers, handed over
/// without a copy. When a request is cut, the intake simply waits: the next request (<c>Content-Range</c> from
/// <see cref="Received"/>) goes on where it stopped. Nobody resuming within the resume window abandons the upload, and
/// the intake discards what it wrote.
/// </summary>
internal sealed class UploadSession : IDisposable
{
    private readonly Channel<Piece> _pieces = Channel.CreateUnbounded<Piece>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _abandon = new();
    private readonly TimeProvider _time;
    private readonly TimeSpan _resumeWindow;
    private readonly Lock _gate = new();
    private Piece? _current;
    private ITimer? _expiry;
    private long _received;

    public UploadSession(string key, ResultUpload header, TimeProvider time, TimeSpan resumeWindow, ResultIntake intake)
    {
        Key = key;
        Header = header;
        _time = time;
        _resumeWindow = resumeWindow;
        Outcome = Task.Run(() => intake.ReceiveAsync(header, BytesAsync(_abandon.Token), _abandon.Token));
    }

    /// <summary>Lease, epoch and digest: what a resumed request must name to continue this upload.</summary>
    public string Key { get; }

    /// <summary>What the first request declared.</summary>
    public ResultUpload Header { get; }

    /// <summary>Bytes handed to the intake so far: where a resumed request starts.</summary>
    public long Received => Interlocked.Read(ref _received);

    /// <summary>How the intake ended the upload (faults with <see cref="OperationCanceledException"/> when abandoned).</summary>
    public Task<IntakeOutcome> Outcome { get; }

    /// <summary>True once nobody resumed within the resume window.</summary>
    public bool Abandoned => _abandon.IsCancellationRequested;

    /// <summary>
    /// Stops the piece being read now, if any, and waits until it has let go of its request's body: a client that
    /// reconnects after a cut may reach us before we noticed the old connection died.
    /// </summary>
    public async Task TakeOverAsync()
    {
        Piece? current;
        lock (_gate)
        {
            current = _current;
        }

        if (current is not null)
        {
            await current.SupersedeAsync();
        }
    }

    /// <summary>Hands a request's body (<paramref name="length"/> bytes of it) to the intake; the task ends when it has been read or cut.</summary>
    public Task<PieceEnd> Feed(PipeReader body, long length)
    {
        var piece = new Piece(body, length, _abandon.Token);
        lock (_gate)
        {
            _expiry?.Dispose();
            _expiry = null;
            _current = piece;
        }

        _pieces.Writer.TryWrite(piece);
        return piece.Ended;
    }

    private void Abandon()
    {
        try
        {
            _abandon.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // It ended meanwhile.
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _expiry?.Dispose();
        }

        _abandon.Dispose();
    }

    private async IAsyncEnumerable<ReadOnlyMemory<byte>> BytesAsync([EnumeratorCancellation] CancellationToken ct)
    {
        while (Received < Header.TotalBytes)
        {
            var piece = await _pieces.Reader.ReadAsync(ct);
            try
            {
                while (piece.Left > 0)
                {
                    if (await piece.ReadAsync() is not { } read)
                    {
                        break;
                    }

                    var buffer = read.Buffer.Length > piece.Left ? read.Buffer.Slice(0, piece.Left) : read.Buffer;
                    foreach (var segment in buffer)
                    {
                        yield return segment;
                    }

                    Interlocked.Add(ref _received, buffer.Length);
                    piece.Consumed(buffer);
                    if (read.IsCompleted && piece.Left > 0)
                    {
                        // The body ended before the bytes its Content-Length promised: a cut.
                        piece.Cut = true;
                        break;
                    }
                }
            }
            finally
            {
                End(piece);
            }
        }
    }

    private void End(Piece piece)
    {
        lock (_gate)
        {
            if (ReferenceEquals(_current, piece))
            {
                _current = null;
            }

            if (Received < Header.TotalBytes && !_abandon.IsCancellationRequested)
            {
                // Whoever cut it has this long to come back for the rest.
                _expiry?.Dispose();
                _expiry = _time.CreateTimer(_ => Abandon(), null, _resumeWindow, Timeout.InfiniteTimeSpan);
            }
        }

        piece.Finish();
    }

    /// <summary>One request's body as the intake reads it.</summary>
    private sealed class Piece(PipeReader body, long length, CancellationToken abandon)
    {
        private readonly CancellationTokenSource _stop = CancellationTokenSource.CreateLinkedTokenSource(abandon);
        private readonly TaskCompletionSource<PieceEnd> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private bool _superseded;

        public long Left { get; private set; } = length;

        public bool Cut { get; set; }

        public Task<PieceEnd> Ended => _ended.Task;

        /// <summary>The next buffer of the body; null when the body was cut, or this piece stopped.</summary>
        public async ValueTask<ReadResult?> ReadAsync()
        {
            try
            {
                var read = await body.ReadAsync(_stop.Token);
                if (read.IsCanceled)
                {
                    Cut = true;
                    return null;
                }

                return read;
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or Microsoft.AspNetCore.Http.BadHttpRequestException or InvalidOperationException)
            {
                // The client went away mid-body (reset, early end), or a newer request took over.
                Cut = true;
                return null;
            }
        }

        public void Consumed(ReadOnlySequence<byte> buffer)
        {
            Left -= buffer.Length;
            body.AdvanceTo(buffer.End);
        }

        public async Task SupersedeAsync()
        {
            if (!_ended.Task.IsCompleted)
            {
                _superseded = true;
                await _stop.CancelAsync();
            }

            await _ended.Task;
        }

        public void Finish() =>
            _ended.TrySetResult(_superseded ? PieceEnd.Superseded : Cut || Left > 0 ? PieceEnd.Cut : PieceEnd.Complete);
    }
}

/// <summary>How one request's part of an upload ended.</summary>
internal enum PieceEnd
{
    /// <summary>Every byte the request promised was handed to the intake.</summary>
    Complete,

    /// <summary>The request's body ended early or broke: the upload waits for a resumed request.</summary>
    Cut,

    /// <summary>A newer request of the same upload took over.</summary>
    Superseded,
}
