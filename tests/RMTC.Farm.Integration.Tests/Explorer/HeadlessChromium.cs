using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Playwright;

namespace RMTC.Farm.Integration.Tests.Explorer;

/// <summary>
/// Debian's chromium, headless, driven through Playwright (its driver ships inside the NuGet package; no browser is
/// downloaded: Playwright launches the installed chromium). One page, with the few steps the Explorer's tests take.
/// </summary>
public sealed class HeadlessChromium : IAsyncDisposable
{
    private readonly IPlaywright _playwright;
    private readonly IBrowser _browser;
    private readonly IPage _page;

    private HeadlessChromium(IPlaywright playwright, IBrowser browser, IPage page)
    {
        _playwright = playwright;
        _browser = browser;
        _page = page;
    }

    /// <summary>The browser binary: /usr/bin/chromium (farm/scripts/test.sh installs it when missing).</summary>
    public static string? Executable => new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser" }.FirstOrDefault(File.Exists);

    public static async Task<HeadlessChromium> StartAsync()
    {
        var exe = Executable ?? throw new InvalidOperationException("chromium is not installed: apt-get install -y --no-install-recommends chromium (farm/scripts/test.sh does this)");
        var playwright = await Playwright.CreateAsync();
        try
        {
            var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = exe,
                Headless = true,
                Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
            });
            var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1400, Height = 1000 } });
            page.SetDefaultTimeout(60_000);
            return new HeadlessChromium(playwright, browser, page);
        }
        catch
        {
            playwright.Dispose();
            throw;
        }
    }

    /// <summary>Loads <paramref name="url"/> and waits until the Explorer page says it rendered (or failed).</summary>
    public async Task OpenAsync(string url)
    {
        await _page.GotoAsync(url);
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
        var value = await _page.EvaluateAsync<JsonElement?>($"() => {{ const v = ({expression}); return v === undefined ? null : v; }}");
        return value is { } element ? JsonNode.Parse(element.GetRawText()) : null;
    }

    /// <summary>Polls <paramref name="condition"/> (JavaScript) until it is true.</summary>
    public async Task WaitForAsync(string condition, TimeSpan? timeout = null)
    {
        var limit = timeout ?? TimeSpan.FromSeconds(30);
        try
        {
            await _page.WaitForFunctionAsync($"() => !!({condition})", null, new PageWaitForFunctionOptions { Timeout = (float)limit.TotalMilliseconds, PollingInterval = 100 });
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"not true after {limit}: {condition}; page {_page.Url}: {await EvaluateAsync("document.body?.innerText?.slice(0, 2000)")}");
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
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await _page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
    }

    /// <summary>Prints the page to PDF (what a rights review saves) and returns the bytes.</summary>
    public Task<byte[]> PrintToPdfAsync() => _page.PdfAsync(new PagePdfOptions { PrintBackground = false, PreferCSSPageSize = true });

    public async ValueTask DisposeAsync()
    {
        await _browser.CloseAsync();
        await _browser.DisposeAsync();
        _playwright.Dispose();
    }
}
