using Grpc.Core;
using Grpc.Net.Client;

namespace RMTC.Farm.Protos.Client;

/// <summary>
/// A call invoker over several coordinators (a leader and its standbys) that sends every call to the one it believes
/// leads. A call refused with <see cref="StatusCode.Unavailable"/> moves that belief: to the address the refusal names
/// in <see cref="LeaderHint.MetadataKey"/> (a standby pointing at the leader), else to the next address in the list
/// (the leader is gone). Failures are seen wherever the caller meets them: the response, its headers, the streams.
/// The call itself is not retried here: callers already retry through outages with their own
/// backoff, and their next try lands on the new leader.
/// </summary>
public sealed class LeaderFollowingInvoker : CallInvoker, IDisposable
{
    private readonly Func<string, GrpcChannel> _open;
    private readonly Lock _lock = new();
    private readonly List<(string Address, GrpcChannel Channel)> _channels = [];
    private int _current;

    /// <summary>Follows the leader among <paramref name="addresses"/>; <paramref name="open"/> opens one coordinator's channel.</summary>
    public LeaderFollowingInvoker(IReadOnlyList<string> addresses, Func<string, GrpcChannel> open)
    {
        ArgumentOutOfRangeException.ThrowIfZero(addresses.Count);
        _open = open;
        foreach (var address in addresses)
        {
            _channels.Add((address, open(address)));
        }
    }

    /// <summary>The address calls go to now.</summary>
    public string Current
    {
        get
        {
            lock (_lock)
            {
                return _channels[_current].Address;
            }
        }
    }

    /// <summary>Raised (old address, new address, why) when calls move to another coordinator.</summary>
    public event Action<string, string, string>? Moved;

    public override TResponse BlockingUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
    {
        var (index, invoker) = Pick();
        try
        {
            return invoker.BlockingUnaryCall(method, host, options, request);
        }
        catch (RpcException e)
        {
            Observe(index, e);
            throw;
        }
    }

    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
    {
        var (index, invoker) = Pick();
        var call = invoker.AsyncUnaryCall(method, host, options, request);
        return new AsyncUnaryCall<TResponse>(Watch(call.ResponseAsync, index), Watch(call.ResponseHeadersAsync, index), call.GetStatus, call.GetTrailers, call.Dispose);
    }

    public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
    {
        var (index, invoker) = Pick();
        var call = invoker.AsyncServerStreamingCall(method, host, options, request);
        return new AsyncServerStreamingCall<TResponse>(new WatchedReader<TResponse>(call.ResponseStream, e => Observe(index, e)), Watch(call.ResponseHeadersAsync, index), call.GetStatus, call.GetTrailers, call.Dispose);
    }

    public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options)
    {
        var (index, invoker) = Pick();
        var call = invoker.AsyncClientStreamingCall(method, host, options);
        return new AsyncClientStreamingCall<TRequest, TResponse>(new WatchedWriter<TRequest>(call.RequestStream, e => Observe(index, e)), Watch(call.ResponseAsync, index), Watch(call.ResponseHeadersAsync, index), call.GetStatus, call.GetTrailers, call.Dispose);
    }

    public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options)
    {
        var (index, invoker) = Pick();
        var call = invoker.AsyncDuplexStreamingCall(method, host, options);
        return new AsyncDuplexStreamingCall<TRequest, TResponse>(
            new WatchedWriter<TRequest>(call.RequestStream, e => Observe(index, e)),
            new WatchedReader<TResponse>(call.ResponseStream, e => Observe(index, e)),
            Watch(call.ResponseHeadersAsync, index), call.GetStatus, call.GetTrailers, call.Dispose);
    }

    /// <summary>
    /// Learns from a failed call made to <paramref name="index"/>: a hint moves calls to the named leader (a channel is
    /// opened for an address not in the list); an UNAVAILABLE without one moves them to the next address, unless
    /// another failure moved them already.
    /// </summary>
    private void Observe(int index, RpcException e)
    {
        if (e.StatusCode != StatusCode.Unavailable)
        {
            return;
        }

        string from, to;
        lock (_lock)
        {
            from = _channels[_current].Address;
            if (LeaderHint.Of(e) is { } hint)
            {
                var known = _channels.FindIndex(c => string.Equals(c.Address, hint, StringComparison.OrdinalIgnoreCase));
                if (known < 0)
                {
                    _channels.Add((hint, _open(hint)));
                    known = _channels.Count - 1;
                }

                _current = known;
            }
            else if (_current == index)
            {
                _current = (index + 1) % _channels.Count;
            }

            to = _channels[_current].Address;
        }

        if (!string.Equals(from, to, StringComparison.Ordinal))
        {
            Moved?.Invoke(from, to, e.Status.Detail);
        }
    }

    private (int Index, CallInvoker Invoker) Pick()
    {
        lock (_lock)
        {
            return (_current, _channels[_current].Channel.CreateCallInvoker());
        }
    }

    private async Task<T> Watch<T>(Task<T> response, int index)
    {
        try
        {
            return await response.ConfigureAwait(false);
        }
        catch (RpcException e)
        {
            Observe(index, e);
            throw;
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var (_, channel) in _channels)
            {
                channel.Dispose();
            }

            _channels.Clear();
        }
    }

    private sealed class WatchedReader<T>(IAsyncStreamReader<T> inner, Action<RpcException> observe) : IAsyncStreamReader<T>
    {
        public T Current => inner.Current;

        public async Task<bool> MoveNext(CancellationToken cancellationToken)
        {
            try
            {
                return await inner.MoveNext(cancellationToken).ConfigureAwait(false);
            }
            catch (RpcException e)
            {
                observe(e);
                throw;
            }
        }
    }

    private sealed class WatchedWriter<T>(IClientStreamWriter<T> inner, Action<RpcException> observe) : IClientStreamWriter<T>
    {
        public WriteOptions? WriteOptions
        {
            get => inner.WriteOptions;
            set => inner.WriteOptions = value;
        }

        public Task WriteAsync(T message) => Watched(inner.WriteAsync(message));

        public Task WriteAsync(T message, CancellationToken cancellationToken) => Watched(inner.WriteAsync(message, cancellationToken));

        public Task CompleteAsync() => Watched(inner.CompleteAsync());

        private async Task Watched(Task write)
        {
            try
            {
                await write.ConfigureAwait(false);
            }
            catch (RpcException e)
            {
                observe(e);
                throw;
            }
        }
    }
}
