namespace RMTC.Farm.Integration.Tests.Explorer;

/// <summary>
/// The Explorer in headless Chromium, the way a supervisor or a rights reviewer uses it: runs list → run → the model's
/// lineage graph → the dataset and its licence; an asset's impact; the report and the live farm view. A screenshot of
/// each page lands in TestResults/explorer/ beside the test project.
/// </summary>
[Collection(ExplorerCollection.Name)]
public sealed class ExplorerBrowserTests(ExplorerFarm fixture)
{
    private static readonly string Screenshots = Path.Combine(ProjectDirectory(), "TestResults", "explorer");

    [Fact]
    public async Task A_reviewer_clicks_from_the_runs_list_to_the_models_lineage_and_reaches_the_dataset_and_its_licence()
    {
        var m = fixture.Run;
        await using var browser = await HeadlessChromium.StartAsync();

        await browser.OpenAsync(fixture.Explorer.ToString());
        Assert.Contains("explored", await browser.TextAsync("#runs"));
        await browser.ScreenshotAsync(Path.Combine(Screenshots, "1-runs.png"));

        await browser.ClickAsync($"tr[data-run='{m.RunId}'] a.run-link");
        await browser.WaitForPageAsync(new Uri(fixture.Explorer, "run.html?id=" + m.RunId).ToString());
        Assert.Contains("chain intact", await browser.TextAsync("#verification"));
        await browser.WaitForAsync("document.querySelectorAll('#loss-chart circle').length === 2 && document.querySelectorAll('#timeline rect').length >= 4");
        // Axes say what they measure; dates are ISO with their zone written out; the preparation is on the timeline.
        Assert.Equal("round loss", (string?)await browser.EvaluateAsync("[...document.querySelectorAll('#loss-chart .axis-title')].map(t => t.textContent).join(' ')"));
        Assert.Matches(@"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC[+−]\d{2}:\d{2} by ", (string?)await browser.EvaluateAsync("document.querySelector('dl.kv dd:nth-of-type(2)').textContent"));
        Assert.Contains("preparation attempt 1", await browser.TextAsync("#timeline"));
        await browser.ScreenshotAsync(Path.Combine(Screenshots, "2-run.png"));

        await browser.ClickAsync("#model-lineage");
        await browser.WaitForPageAsync(new Uri(fixture.Explorer, "lineage.html?digest=" + m.FinalModelDigest).ToString());
        // The model's node is selected on arrival; then the reviewer follows the graph to the dataset node.
        Assert.Contains(m.FinalModelDigest!, await browser.TextAsync("#detail"));
        await browser.ClickAsync("#lineage-graph .node[data-kind='dataset']");
        await browser.WaitForAsync("document.querySelector('#detail')?.dataset.kind === 'dataset'");
        var dataset = await browser.TextAsync("#detail");
        Assert.Contains(m.Dataset.Digest, dataset);
        Assert.Contains("CC0-1.0", dataset);
        Assert.Contains("CC0-1.0", await browser.TextAsync("#lineage-graph .node[data-kind='licence']"));
        await browser.ScreenshotAsync(Path.Combine(Screenshots, "3-lineage.png"));

        // From an asset node of the same graph to its impact view.
        await browser.ClickAsync("#lineage-graph .node[data-kind='asset']");
        await browser.ClickAsync("#detail-open");
        await browser.WaitForAsync("location.pathname.endsWith('/impact.html')");
        await browser.WaitForPageAsync();
        Assert.Contains("1 model affected", await browser.TextAsync("#affected-count"));
        Assert.Contains($"rmtc submit retrain-{m.RunId}.yaml --wait", await browser.TextAsync("pre.command"));
        Assert.Equal(m.RunId, await browser.TextAsync($".card.affected[data-run='{m.RunId}'] .run-id"));
        await browser.ScreenshotAsync(Path.Combine(Screenshots, "4-impact.png"));

        await browser.OpenAsync(new Uri(fixture.Explorer, "report.html?run=" + m.RunId).ToString());
        Assert.Contains(fixture.AnAsset, await browser.TextAsync("#assets"));
        await browser.ScreenshotAsync(Path.Combine(Screenshots, "5-report.png"));
        // Printed, every page names the run; the sign-off comes where the findings end, before the sources appendix;
        // merged results are one numbered digest per line.
        Assert.True((bool)(await browser.EvaluateAsync($"[...document.styleSheets[0].cssRules].some(r => r.cssText.includes('@page') && r.cssText.includes('{m.RunId}'))"))!);
        Assert.True((bool)(await browser.EvaluateAsync("!!(document.getElementById('sign-off').compareDocumentPosition(document.getElementById('assets')) & Node.DOCUMENT_POSITION_FOLLOWING)"))!);
        Assert.Equal(m.Rounds[0].MergedResults.Count, (int)(await browser.EvaluateAsync("document.querySelectorAll('#report-rounds tr[data-round=\"1\"] ol.digests li').length"))!);
        var pdf = await browser.PrintToPdfAsync();
        Assert.Equal("%PDF"u8.ToArray(), pdf[..4]);
        await File.WriteAllBytesAsync(Path.Combine(Screenshots, "5-report.pdf"), pdf);

        await browser.OpenAsync(new Uri(fixture.Explorer, "farm.html").ToString());
        // Updates arrive over server-sent events without a reload.
        await browser.WaitForAsync("Number(document.body.dataset.updates || 0) >= 2");
        Assert.Contains("agent-1", await browser.TextAsync("#agents"));
        await browser.ScreenshotAsync(Path.Combine(Screenshots, "6-farm.png"));
    }

    [Fact]
    public async Task The_provenance_report_shows_every_seed_digit_for_digit_and_the_code_as_labelled_fields()
    {
        var m = fixture.Run;
        await using var browser = await HeadlessChromium.StartAsync();
        await browser.OpenAsync(new Uri(fixture.Explorer, "report.html?run=" + m.RunId).ToString());

        // What the page shows, compared with the manifest's own digits (the seeds are past 2^53: a JSON number would be rounded).
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        Assert.Equal(m.Seeds.Run.ToString(inv), await browser.TextAsync("#seed-run"));
        Assert.Equal(m.Seeds.Init.ToString(inv), await browser.TextAsync("#seed-init"));
        Assert.Equal(m.Seeds.ShardPlan.ToString(inv), await browser.TextAsync("#seed-shard-plan"));
        foreach (var round in m.Rounds)
        {
            foreach (var shard in round.Shards)
            {
                Assert.Equal(shard.Seed.ToString(inv), await browser.TextAsync($"#report-rounds tr[data-round='{round.Round}'] .shard-seed[data-shard='{shard.Shard}']"));
            }
        }

        Assert.Equal(m.Code.RmtcVersion, await browser.TextAsync("#code-rmtc"));
        Assert.Equal(m.Code.Runtime, await browser.TextAsync("#code-runtime"));
        Assert.Equal(m.Code.Os, await browser.TextAsync("#code-os"));
        Assert.Equal(m.Code.TorchSharpVersion, await browser.TextAsync("#code-torchsharp"));
        // Labelled fields, not JSON: no braces or quoted keys left on the page.
        var text = await browser.TextAsync("#main");
        Assert.DoesNotContain("{\"", text);
        Assert.Contains("Initial weights seed", text);
        Assert.Contains("Shard plan seed", text);
        await browser.ScreenshotAsync(Path.Combine(Screenshots, "7-report-seeds.png"));
    }

    internal static string ProjectDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "RMTC.Farm.Integration.Tests.csproj")))
            {
                return dir.FullName;
            }
        }

        return AppContext.BaseDirectory;
    }
}
