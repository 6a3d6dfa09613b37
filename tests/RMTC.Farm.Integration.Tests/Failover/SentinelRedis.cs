using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace RMTC.Farm.Integration.Tests.Failover;

/// <summary>
/// Real Redis with Sentinel on 127.0.0.1: a <c>redis-server</c> primary, replicas started with <c>--replicaof</c>, and
/// sentinels (<c>redis-server sentinel.conf --sentinel</c>, what Debian's redis-sentinel runs) watching it as
/// <see cref="ServiceName"/> with a 1 s <c>down-after-milliseconds</c>, so a killed primary is replaced within seconds.
/// Each process has its own free port and directory under one temporary folder.
/// </summary>
public sealed class SentinelRedis : IAsyncDisposable
{
    /// <summary>The name the sentinels monitor the primary by.</summary>
    public const string ServiceName = "rmtc";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private readonly string _root = Directory.CreateTempSubdirectory("rmtc-sentinel-").FullName;
    private readonly List<Node> _nodes = [];
    private readonly List<Node> _sentinels = [];
    private readonly string? _password;

    private SentinelRedis(string? password) => _password = password;

    /// <summary>The first primary's port (the sentinels' starting point; after a failover it may be dead or a replica).</summary>
    public int FirstPrimaryPort => _nodes[0].Port;

    /// <summary>The sentinels as <c>Coordinator:RedisSentinels</c> takes them: <c>127.0.0.1:port,…</c>.</summary>
    public string Sentinels => string.Join(',', _sentinels.Select(s => $"127.0.0.1:{s.Port.ToString(CultureInfo.InvariantCulture)}"));

    /// <summary>Every process's recent log lines, for failure messages.</summary>
    public string Output => string.Join("\n", _nodes.Concat(_sentinels).Select(n => $"--- {n.Name} :{n.Port}\n{n.Output}"));

    /// <summary>
    /// Starts a primary, <paramref name="replicas"/> replicas and <paramref name="sentinels"/> sentinels (quorum: a
    /// majority), and waits until the replicas are in sync and every sentinel knows every replica and the other
    /// sentinels: only then can a failover happen. With <paramref name="password"/> every data node requires it
    /// (<c>requirepass</c>, and <c>masterauth</c> for replication) and the sentinels use it (<c>sentinel auth-pass</c>);
    /// the sentinels themselves ask for none, as in <c>farm/redis</c>.
    /// </summary>
    public static async Task<SentinelRedis> StartAsync(int replicas = 2, int sentinels = 3, string? password = null)
    {
        var group = new SentinelRedis(password);
        try
        {
            var primary = await group.StartNodeAsync("primary", []);
            for (var i = 1; i <= replicas; i++)
            {
                await group.StartNodeAsync($"replica-{i}", ["--replicaof", "127.0.0.1", primary.Port.ToString(CultureInfo.InvariantCulture)]);
            }

            await WaitAsync(async () =>
            {
                if (!(await group.InfoAsync(primary.Port, "replication")).Contains($"connected_slaves:{replicas.ToString(CultureInfo.InvariantCulture)}", StringComparison.Ordinal))
                {
                    return false;
                }

                foreach (var replica in group._nodes.Skip(1))
                {
                    if (!(await group.InfoAsync(replica.Port, "replication")).Contains("master_link_status:up", StringComparison.Ordinal))
                    {
                        return false;
                    }
                }

                return true;
            }, () => "the replicas did not connect:\n" + group.Output);

            for (var i = 1; i <= sentinels; i++)
            {
                await group.StartSentinelAsync(i, primary.Port, quorum: sentinels / 2 + 1);
            }

            if (sentinels > 0)
            {
                await WaitAsync(async () =>
                {
                    foreach (var s in group._sentinels)
                    {
                        var known = await CommandAsync(s.Port, null, "SENTINEL", "master", ServiceName);
                        if (!known.Contains($"num-slaves\n{replicas.ToString(CultureInfo.InvariantCulture)}\n", StringComparison.Ordinal)
                            || !known.Contains($"num-other-sentinels\n{(sentinels - 1).ToString(CultureInfo.InvariantCulture)}\n", StringComparison.Ordinal))
                        {
                            return false;
                        }
                    }

                    return true;
                }, () => "the sentinels did not find the replicas and each other:\n" + group.Output);
            }

            return group;
        }
        catch
        {
            await group.DisposeAsync();
            throw;
        }
    }

    /// <summary>The primary the sentinels name now (asked of the first sentinel that answers), as <c>127.0.0.1:port</c>.</summary>
    public async Task<string?> PrimaryAsync()
    {
        foreach (var s in _sentinels)
        {
            try
            {
                var reply = (await CommandAsync(s.Port, null, "SENTINEL", "get-master-addr-by-name", ServiceName)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
                if (reply.Length == 2)
                {
                    return $"{reply[0]}:{reply[1]}";
                }
            }
            catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
            {
                // That sentinel is away: ask the next.
            }
        }

        return null;
    }

    /// <summary>The replica endpoint of a data node: <c>127.0.0.1:port</c> for a replica started by this group.</summary>
    public IEnumerable<string> ReplicaEndpoints => _nodes.Skip(1).Select(n => $"127.0.0.1:{n.Port.ToString(CultureInfo.InvariantCulture)}");

    /// <summary>The first primary's endpoint, <c>127.0.0.1:port</c>.</summary>
    public string FirstPrimary => $"127.0.0.1:{FirstPrimaryPort.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>SIGKILLs the data node listening on <paramref name="endpoint"/> (no shutdown work, as a crash or a lost machine).</summary>
    public async Task KillAsync(string endpoint)
    {
        var node = _nodes.Single(n => endpoint.EndsWith(":" + n.Port.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal));
        node.Process.Kill();
        await node.Process.WaitForExitAsync();
    }

    /// <summary>
    /// Starts the data node that listened on <paramref name="endpoint"/> (killed earlier) again on its port and
    /// directory, as a replica of the primary the sentinels name now: what its service manager does after a crash once
    /// Sentinel has rewritten its role (a killed primary that came back as a primary would be demoted by the sentinels a
    /// few seconds later anyway).
    /// </summary>
    public async Task RestartAsReplicaAsync(string endpoint)
    {
        var old = _nodes.Single(n => endpoint.EndsWith(":" + n.Port.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal));
        if (!old.Process.HasExited)
        {
            throw new InvalidOperationException($"{old.Name} on port {old.Port} is still running: kill it before restarting it");
        }

        var primary = await PrimaryAsync() ?? throw new InvalidOperationException("no sentinel names a primary:\n" + Output);
        var colon = primary.LastIndexOf(':');
        var node = new Node(old.Name, old.Port, NodeArguments(old.Port, Path.Combine(_root, old.Name), [.. Auth(_password), "--replicaof", primary[..colon], primary[(colon + 1)..]]));
        _nodes[_nodes.IndexOf(old)] = node;
        old.Stop();
        await WaitAsync(async () => node.Process.HasExited
            ? throw new InvalidOperationException($"{node.Name} exited with {node.Process.ExitCode}:\n{node.Output}")
            : await CommandAsync(node.Port, _password, "PING") == "PONG", () => $"{node.Name} on port {node.Port} did not answer PING after its restart:\n{node.Output}");
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var n in _sentinels.Concat(_nodes))
        {
            n.Stop();
        }

        await Task.Yield();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // A temp directory left behind is not worth failing a test over.
        }
    }

    private async Task<Node> StartNodeAsync(string name, string[] extra)
    {
        var dir = Directory.CreateDirectory(Path.Combine(_root, name)).FullName;
        return await StartAsync(name, _nodes, _password, port => NodeArguments(port, dir, [.. Auth(_password), .. extra]));
    }

    private static string[] NodeArguments(int port, string dir, string[] extra) =>
    [
        "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
        "--appendfsync", "always", "--dir", dir, "--daemonize", "no", "--loglevel", "notice", .. extra,
    ];

    private async Task StartSentinelAsync(int index, int primaryPort, int quorum)
    {
        var dir = Directory.CreateDirectory(Path.Combine(_root, $"sentinel-{index.ToString(CultureInfo.InvariantCulture)}")).FullName;
        await StartAsync($"sentinel-{index.ToString(CultureInfo.InvariantCulture)}", _sentinels, null, port =>
        {
            // Sentinel rewrites its file (it records what it learns), so each has its own.
            var conf = Path.Combine(dir, "sentinel.conf");
            File.WriteAllText(conf, string.Join('\n',
                $"port {port.ToString(CultureInfo.InvariantCulture)}",
                "bind 127.0.0.1",
                $"dir {dir}",
                $"sentinel monitor {ServiceName} 127.0.0.1 {primaryPort.ToString(CultureInfo.InvariantCulture)} {quorum.ToString(CultureInfo.InvariantCulture)}",
                $"sentinel down-after-milliseconds {ServiceName} 1000",
                $"sentinel failover-timeout {ServiceName} 3000",
                $"sentinel parallel-syncs {ServiceName} 2",
                _password is null ? "" : $"sentinel auth-pass {ServiceName} {_password}",
                "") );
            return [conf, "--sentinel"];
        });
    }

    private static string[] Auth(string? password) => password is null ? [] : ["--requirepass", password, "--masterauth", password];

    private static async Task<Node> StartAsync(string name, List<Node> into, string? password, Func<int, string[]> arguments)
    {
        // The port found free can be taken before the server binds it: pick another and try again.
        for (var attempt = 1; ; attempt++)
        {
            var port = FreePort();
            var node = new Node(name, port, arguments(port));
            try
            {
                await WaitAsync(async () => node.Process.HasExited
                    ? throw new InvalidOperationException($"{name} exited with {node.Process.ExitCode}:\n{node.Output}")
                    : await CommandAsync(port, password, "PING") == "PONG", () => $"{name} on port {port} did not answer PING:\n{node.Output}");
                into.Add(node);
                return node;
            }
            catch (InvalidOperationException) when (attempt < 3)
            {
                node.Stop();
            }
        }
    }

    private Task<string> InfoAsync(int port, string section) => CommandAsync(port, _password, "INFO", section);

    /// <summary>
    /// One command in RESP on a fresh connection, with no client library in between, after <c>AUTH</c> when a
    /// <paramref name="password"/> is given; the reply flattened to lines (bulk strings and array elements one per
    /// line, errors as <c>-ERR …</c>).
    /// </summary>
    private static async Task<string> CommandAsync(int port, string? password, params string[] command)
    {
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        await client.ConnectAsync(IPAddress.Loopback, port, timeout.Token);
        var stream = client.GetStream();
        using var reader = new StreamReader(stream, Encoding.UTF8);
        if (password is not null)
        {
            await SendAsync(stream, ["AUTH", password], timeout.Token);
            var auth = new List<string>();
            await ReadValueAsync(reader, auth, timeout.Token);
            if (auth is not ["OK"])
            {
                throw new IOException($"AUTH on port {port} answered {string.Join(' ', auth)}");
            }
        }

        await SendAsync(stream, command, timeout.Token);
        var lines = new List<string>();
        await ReadValueAsync(reader, lines, timeout.Token);
        return string.Join('\n', lines) + (lines.Count > 1 ? "\n" : "");
    }

    private static async Task SendAsync(Stream stream, string[] command, CancellationToken ct)
    {
        var request = new StringBuilder().Append('*').Append(command.Length).Append("\r\n");
        foreach (var part in command)
        {
            request.Append('$').Append(Encoding.UTF8.GetByteCount(part)).Append("\r\n").Append(part).Append("\r\n");
        }

        await stream.WriteAsync(Encoding.UTF8.GetBytes(request.ToString()), ct);
    }

    private static async Task ReadValueAsync(StreamReader reader, List<string> into, CancellationToken ct)
    {
        var line = await reader.ReadLineAsync(ct) ?? throw new IOException("the connection closed before the reply");
        switch (line[0])
        {
            case '+' or ':':
                into.Add(line[1..]);
                break;
            case '-':
                into.Add(line);
                break;
            case '$':
                var length = int.Parse(line.AsSpan(1), CultureInfo.InvariantCulture);
                if (length >= 0)
                {
                    var buffer = new char[length + 2];
                    var read = 0;
                    while (read < buffer.Length)
                    {
                        var n = await reader.ReadAsync(buffer.AsMemory(read), ct);
                        read += n > 0 ? n : throw new IOException("the connection closed inside a reply");
                    }

                    into.Add(new string(buffer, 0, length));
                }

                break;
            case '*':
                var count = int.Parse(line.AsSpan(1), CultureInfo.InvariantCulture);
                for (var i = 0; i < count; i++)
                {
                    await ReadValueAsync(reader, into, ct);
                }

                break;
            default:
                throw new IOException($"not a RESP reply: {line}");
        }
    }

    private static async Task WaitAsync(Func<Task<bool>> condition, Func<string> explain)
    {
        var deadline = DateTime.UtcNow + StartTimeout;
        while (true)
        {
            try
            {
                if (await condition())
                {
                    return;
                }
            }
            catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
            {
                // Not listening yet.
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException(explain());
            }

            await Task.Delay(50);
        }
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        finally
        {
            listener.Stop();
        }
    }

    /// <summary>One redis-server process and its last log lines.</summary>
    private sealed class Node
    {
        private readonly ConcurrentQueue<string> _output = new();

        public Node(string name, int port, string[] arguments)
        {
            Name = name;
            Port = port;
            var info = new ProcessStartInfo("redis-server") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in arguments)
            {
                info.ArgumentList.Add(a);
            }

            Process = Process.Start(info) ?? throw new InvalidOperationException("redis-server did not start: is it installed (farm/scripts/test.sh installs it)?");
            Process.OutputDataReceived += (_, e) => Keep(e.Data);
            Process.ErrorDataReceived += (_, e) => Keep(e.Data);
            Process.BeginOutputReadLine();
            Process.BeginErrorReadLine();
        }

        public string Name { get; }

        public int Port { get; }

        public Process Process { get; }

        public string Output => string.Join("\n", _output);

        public void Stop()
        {
            try
            {
                if (!Process.HasExited)
                {
                    Process.Kill();
                    Process.WaitForExit(5000);
                }
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }

            Process.Dispose();
        }

        private void Keep(string? line)
        {
            if (line is null)
            {
                return;
            }

            _output.Enqueue(line);
            while (_output.Count > 100 && _output.TryDequeue(out _))
            {
            }
        }
    }
}
