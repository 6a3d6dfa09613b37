using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;

namespace RMTC.Farm.Integration.Tests.Explorer;

/// <summary>
/// Debian's chromium, headless, driven over the Chrome DevTools Protocol on a WebSocket: no browser download, no
/// driver package. One page; commands are sent one at a time and their answers matched by id (events are skipped).
/// </summary>
public sealed class HeadlessChromium : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _profile;
    private readonly ClientWebSocket _socket = new();
    private int _nextId;

    private HeadlessChromium(Process process, string profile)
    {
        _process = process;
        _profile = profile;
    }

    /// <summary>The browser binary: /usr/bin/chromium (farm/scripts/test.sh installs it when missing).</summary>
    public static string? Executable => new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser" }.FirstOrDefault(File.Exists);

    public static async Task<HeadlessChromium> StartAsync()
    {
        var exe = Executable ?? throw new InvalidOperationException("chromium is not installed: apt-get install -y --no-install-recommends chromium (farm/scripts/test.sh does this)");
        var profile = Directory.CreateTempSubdirectory("rmtc-chromium-").FullName;
        var info = new ProcessStartInfo(exe) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[]
        {
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--remote-debugging-port=0",
            "--window-size=1400,1000", $"--user-data-dir={profile}", "about:blank",
        })
        {
            info.ArgumentList.Add(a);
        }

        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var browser = new HeadlessChromium(process, profile);
        try
        {
            // Chromium writes the port it chose, then the browser target's path, once it listens.
            var portFile = Path.Combine(profile, "DevToolsActivePort");
            await FarmFixture.WaitUntilAsync(() => File.Exists(portFile) && File.ReadAllLines(portFile).Length >= 2 || process.HasExited, TimeSpan.FromSeconds(60), () => "chromium did not write DevToolsActivePort");
            if (process.HasExited)
            {
                throw new InvalidOperationException($"chromium exited with {process.ExitCode} at start");
            }

            var port = int.Parse(File.ReadAllLines(portFile)[0], System.Globalization.CultureInfo.InvariantCulture);
            using var http = new HttpClient();
            var targets = JsonNode.Parse(await http.GetStringAsync($"http://127.0.0.1:{port}/json/list"))!.AsArray();
            var page = targets.First(t => (string?)t!["type"] == "page")!;
            await browser._socket.ConnectAsync(new Uri((string)page["webSocketDebuggerUrl"]!), CancellationToken.None);
            return browser;
        }
        catch
        {
            await browser.DisposeAsync();
            throw;
        }
    }

    /// <summary>Sends one DevTools command and returns its result; a protocol error throws.</summary>
    public async Task<JsonNode> SendAsync(string method, JsonObject? parameters = null)
    {
        var id = ++_nextId;
        var message = new JsonObject { ["id"] = id, ["method"] = method, ["params"] = parameters ?? new JsonObject() };
        await _socket.SendAsync(Encoding.UTF8.GetBytes(message.ToJsonString()), WebSocketMessageType.Text, true, CancellationToken.None);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var buffer = new byte[1 << 16];
        while (true)
        {
            using var text = new MemoryStream();
            WebSocketReceiveResult result;
            do
            {
                result = await _socket.ReceiveAsync(buffer, timeout.Token);
                text.Write(buffer, 0, result.Count);
            }
            while (!result.EndOfMessage);
            var answer = JsonNode.Parse(text.ToArray())!;
            if ((int?)answer["id"] != id)
            {
                continue;
            }

            if (answer["error"] is { } error)
            {
                throw new InvalidOperationException($"{method}: {error.ToJsonString()}");
            }

            return answer["result"]!;
        }
    }

    /// <summary>Loads <paramref name="url"/> and waits until the Explorer page says it rendered (or failed).</summary>
    public async Task OpenAsync(string url)
    {
        await SendAsync("Page.navigate", new JsonObject { ["url"] = url });
        await WaitForPageAsync(url);
    }

    /// <summary>Waits for the page at <paramref name="url"/> (or any, when null) to finish rendering; a rendered error throws.</summary>
    public async Task WaitForPageAsync(string? url = null)
    {
        var check = url is null ? "true" : $"location.href === {JsonValue.Create(url)!.ToJsonString()}";
        await WaitForAsync($"{check} && (document.body?.dataset.ready === 'true' || document.body?.dataset.ready === 'error')");
        if (await EvaluateAsync("document.body.dataset.ready") is { } ready && (string?)ready == "error")
        {
            throw new InvalidOperationException($"the page {url} rendered an error: {await EvaluateAsync("document.getElementById('error')?.textContent")}");
        }
    }

    /// <summary>Evaluates JavaScript in the page and returns its (JSON) value.</summary>
    public async Task<JsonNode?> EvaluateAsync(string expression)
    {
        var result = await SendAsync("Runtime.evaluate", new JsonObject { ["expression"] = expression, ["returnByValue"] = true, ["awaitPromise"] = true });
        if (result["exceptionDetails"] is { } e)
        {
            throw new InvalidOperationException($"{expression}: {e.ToJsonString()}");
        }

        return result["result"]?["value"];
    }

    /// <summary>Polls <paramref name="condition"/> (JavaScript) until it is true.</summary>
    public async Task WaitForAsync(string condition, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            try
            {
                if (await EvaluateAsync($"!!({condition})") is { } v && (bool)v)
                {
                    return;
                }
            }
            catch (InvalidOperationException) when (DateTime.UtcNow < deadline)
            {
                // The page is navigating: its context is gone for a moment.
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"not true after {timeout ?? TimeSpan.FromSeconds(30)}: {condition}; page {await EvaluateAsync("location.href")}: {await EvaluateAsync("document.body?.innerText?.slice(0, 2000)")}");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>Clicks the first element matching <paramref name="selector"/> (a real DOM click: links navigate, SVG nodes select).</summary>
    public async Task ClickAsync(string selector)
    {
        var s = JsonValue.Create(selector)!.ToJsonString();
        await WaitForAsync($"document.querySelector({s})");
        await EvaluateAsync($"(() => {{ const el = document.querySelector({s}); el.dispatchEvent(new MouseEvent('click', {{ bubbles: true, cancelable: true, view: window }})); }})()");
    }

    /// <summary>Text content of the first element matching <paramref name="selector"/>.</summary>
    public async Task<string> TextAsync(string selector) =>
        (string?)await EvaluateAsync($"document.querySelector({JsonValue.Create(selector)!.ToJsonString()})?.textContent ?? ''") ?? "";

    /// <summary>Saves a PNG of the whole page.</summary>
    public async Task ScreenshotAsync(string path)
    {
        var result = await SendAsync("Page.captureScreenshot", new JsonObject { ["format"] = "png", ["captureBeyondViewport"] = true });
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllBytesAsync(path, Convert.FromBase64String((string)result["data"]!));
    }

    /// <summary>Prints the page to PDF (what a rights review saves) and returns the bytes.</summary>
    public async Task<byte[]> PrintToPdfAsync() =>
        Convert.FromBase64String((string)(await SendAsync("Page.printToPDF", new JsonObject { ["printBackground"] = false }))["data"]!);

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_socket.State == WebSocketState.Open)
            {
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
            }
        }
        catch (WebSocketException)
        {
        }

        _socket.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        try
        {
            Directory.Delete(_profile, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
