using System.Net;
using System.Net.Sockets;

namespace RMTC.Farm.Integration.Tests.Fixtures;

/// <summary>
/// A TCP proxy on 127.0.0.1 in front of a real server that cuts its first connection (both directions, with a reset)
/// once that connection has carried <c>cutAfter</c> bytes in the chosen direction: a network failure in the middle of a
/// transfer (the bytes passed are given 300 ms to be read first). Later connections pass whole. Counts the bytes each way, so a test can tell a resume from a restart.
/// </summary>
public sealed class CuttingProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint _target;
    private readonly long _cutAfter;
    private readonly bool _cutUpstream;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private long _toServer;
    private long _toClient;
    private int _connections;

    /// <param name="target">The real server.</param>
    /// <param name="cutAfter">Bytes the first connection carries before the cut.</param>
    /// <param name="cutUpstream">True to count client → server bytes (an upload), false server → client (a fetch).</param>
    public CuttingProxy(Uri target, long cutAfter, bool cutUpstream)
    {
        _target = new IPEndPoint(IPAddress.Parse(target.Host), target.Port);
        _cutAfter = cutAfter;
        _cutUpstream = cutUpstream;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    /// <summary>The proxy's address, with the target's scheme.</summary>
    public Uri Address => new($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}");

    /// <summary>Bytes passed from clients to the server.</summary>
    public long ToServer => Interlocked.Read(ref _toServer);

    /// <summary>Bytes passed from the server to clients.</summary>
    public long ToClient => Interlocked.Read(ref _toClient);

    /// <summary>Connections accepted.</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>True once the first connection was cut.</summary>
    public bool Cut { get; private set; }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            var first = Interlocked.Increment(ref _connections) == 1;
            _ = Task.Run(() => RelayAsync(client, first));
        }
    }

    private async Task RelayAsync(Socket client, bool first)
    {
        using var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using (client)
        {
            try
            {
                await server.ConnectAsync(_target, _stop.Token);
                using var cut = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                var up = PumpAsync(client, server, upstream: true, first, cut);
                var down = PumpAsync(server, client, upstream: false, first, cut);
                await Task.WhenAny(up, down);
                if (cut.IsCancellationRequested)
                {
                    // A reset, not a polite close: what a dropped link or a killed peer looks like.
                    client.LingerState = new LingerOption(true, 0);
                    server.LingerState = new LingerOption(true, 0);
                }
                else
                {
                    await Task.WhenAll(up, down);
                }
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or IOException)
            {
                // Either side went away.
            }
        }
    }

    private async Task PumpAsync(Socket from, Socket to, bool upstream, bool first, CancellationTokenSource cut)
    {
        var buffer = new byte[64 * 1024];
        long carried = 0;
        try
        {
            while (true)
            {
                var read = await from.ReceiveAsync(buffer, cut.Token);
                if (read == 0)
                {
                    to.Shutdown(SocketShutdown.Send);
                    return;
                }

                if (first && upstream == _cutUpstream && carried + read > _cutAfter)
                {
                    var allowed = (int)(_cutAfter - carried);
                    await to.SendAsync(buffer.AsMemory(0, allowed), cut.Token);
                    Count(upstream, allowed);
                    Cut = true;
                    // The bytes passed arrive before the link dies: a reset drops whatever its receiver has not read yet.
                    await Task.Delay(300, CancellationToken.None);
                    await cut.CancelAsync();
                    return;
                }

                await to.SendAsync(buffer.AsMemory(0, read), cut.Token);
                carried += read;
                Count(upstream, read);
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            await cut.CancelAsync();
        }
    }

    private void Count(bool upstream, long bytes)
    {
        if (upstream)
        {
            Interlocked.Add(ref _toServer, bytes);
        }
        else
        {
            Interlocked.Add(ref _toClient, bytes);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _accepting;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }
}
