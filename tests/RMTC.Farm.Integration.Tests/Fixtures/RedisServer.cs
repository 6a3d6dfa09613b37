using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using StackExchange.Redis;

namespace RMTC.Farm.Integration.Tests.Fixtures;

/// <summary>
/// A real <c>redis-server</c> on 127.0.0.1 with a free port and its own directory, with an append-only file so data
/// survives <see cref="RestartAsync"/> and <see cref="KillAsync"/>. Use it as an xunit class fixture, or start one
/// directly with <see cref="StartAsync"/>.
/// </summary>
public sealed class RedisServer : IAsyncLifetime, IDisposable
{
    private const string NotInstalled = "redis-server is not installed: run farm/scripts/test.sh (it installs it) or apt-get install redis-server";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(15);

    private readonly ConcurrentQueue<string> _output = new();
    private Process? _process;
    private bool _disposed;

    /// <summary>Creates the fixture; the server starts in <see cref="InitializeAsync"/> (xunit calls it).</summary>
    public RedisServer()
    {
        DataDirectory = Directory.CreateTempSubdirectory("rmtc-redis-").FullName;
    }

    /// <summary>Where Redis keeps its append-only file.</summary>
    public string DataDirectory { get; }

    public int Port { get; private set; }

    /// <summary><c>127.0.0.1:port</c>, a StackExchange.Redis configuration string.</summary>
    public string Endpoint => $"127.0.0.1:{Port}";

    /// <summary>The server's recent log lines, for failure messages.</summary>
    public string Output => string.Join("\n", _output);

    /// <summary>Starts a server outside xunit's fixture machinery; dispose it when done.</summary>
    public static async Task<RedisServer> StartAsync()
    {
        var server = new RedisServer();
        try
        {
            await server.InitializeAsync();
            return server;
        }
        catch
        {
            server.Dispose();
            throw;
        }
    }

    public async Task InitializeAsync()
    {
        if (!IsInstalled())
        {
            throw new InvalidOperationException(NotInstalled);
        }

        // The port found free can be taken again before Redis binds it: pick another and retry a few times.
        for (var attempt = 1; ; attempt++)
        {
            Port = FreePort();
            try
            {
                await StartProcessAsync();
                return;
            }
            catch (Exception) when (attempt < 3)
            {
                Stop();
            }
        }
    }

    /// <summary>A new connection; short timeouts so tests that stop the server fail fast. Dispose it.</summary>
    public async Task<IConnectionMultiplexer> ConnectAsync(Action<ConfigurationOptions>? configure = null)
    {
        var options = ConfigurationOptions.Parse(Endpoint);
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = 5000;
        options.AllowAdmin = true;
        configure?.Invoke(options);
        return await ConnectionMultiplexer.ConnectAsync(options);
    }

    /// <summary>Stops the server gracefully if it runs (SHUTDOWN: the append-only file is flushed) and starts it again on the same port and directory.</summary>
    public async Task RestartAsync()
    {
        if (_process is { HasExited: false } process)
        {
            await SendAsync("SHUTDOWN\r\n", expectReply: false);
            using var timeout = new CancellationTokenSource(StartTimeout);
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"redis-server on {Endpoint} did not stop after SHUTDOWN:\n{Output}");
            }
        }

        Stop();
        await StartProcessAsync();
    }

    /// <summary>Kills the server with SIGKILL (no shutdown work); <see cref="RestartAsync"/> starts it again.</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill();
            await process.WaitForExitAsync();
        }
    }

    public Task DisposeAsync()
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Stop();
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A temp directory left behind is not worth failing a test run over.
        }
    }

    private async Task StartProcessAsync()
    {
        var info = new ProcessStartInfo("redis-server")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = DataDirectory,
        };
        foreach (var arg in new[]
        {
            "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--dir", DataDirectory,
            "--daemonize", "no", "--loglevel", "notice",
        })
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("redis-server did not start");
        process.OutputDataReceived += (_, e) => Keep(e.Data);
        process.ErrorDataReceived += (_, e) => Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;

        var deadline = DateTime.UtcNow + StartTimeout;
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"redis-server exited with {process.ExitCode} while starting on {Endpoint}:\n{Output}");
            }

            try
            {
                // Also waits for the append-only file to load: Redis answers -LOADING until then.
                if (await SendAsync("PING\r\n", expectReply: true) == "+PONG")
                {
                    return;
                }
            }
            catch (Exception e) when (e is SocketException or IOException)
            {
                // Not listening yet.
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"redis-server on {Endpoint} did not answer PING within {StartTimeout.TotalSeconds} s:\n{Output}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>One raw RESP command on a fresh connection: no client library between the fixture and the server.</summary>
    private async Task<string?> SendAsync(string command, bool expectReply)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(command));
        if (!expectReply)
        {
            return null;
        }

        using var reader = new StreamReader(stream, Encoding.ASCII);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        return await reader.ReadLineAsync(timeout.Token);
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        _output.Enqueue(line);
        while (_output.Count > 200 && _output.TryDequeue(out _))
        {
        }
    }

    private void Stop()
    {
        if (_process is null)
        {
            return;
        }

        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }

        _process.Dispose();
        _process = null;
    }

    private static bool IsInstalled() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Any(dir => File.Exists(Path.Combine(dir, "redis-server")));

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
}
