using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using RMTC.Farm.Coordinator.Metrics;
using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Integration.Tests;

public sealed class EvaluationMetricsTests
{
    [Fact]
    public void Eval_gauges_report_each_evaluated_live_run_by_its_metric()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var metrics = new FarmMetrics(services.GetRequiredService<IMeterFactory>());
        var snapshot = new FarmSnapshot(0, 0, 0,
        [
            new RunProgress("cls-1", "cls", 0.5, new RoundEvaluation { Loss = 0.4, Accuracy = 0.87, Samples = 10 }),
            new RunProgress("den-1", "den", 0.5, new RoundEvaluation { Loss = 0.01, Psnr = 20, Samples = 10 }),
            new RunProgress("new-1", "new", 0.1),
        ], []);
        metrics.ObserveFarm(() => snapshot);
        var seen = new List<(string Name, double Value, string Run)>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == FarmMetrics.MeterName && instrument.Name.StartsWith("rmtc_run_eval_", StringComparison.Ordinal))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) =>
            seen.Add((instrument.Name, value, (string)tags.ToArray().Single(t => t.Key == "run").Value!)));
        listener.Start();

        listener.RecordObservableInstruments();

        Assert.Contains(("rmtc_run_eval_accuracy", 0.87, "cls-1"), seen);
        Assert.Contains(("rmtc_run_eval_psnr", 20.0, "den-1"), seen);
        Assert.Contains(("rmtc_run_eval_loss", 0.4, "cls-1"), seen);
        Assert.DoesNotContain(seen, s => s.Run == "new-1");
        Assert.DoesNotContain(seen, s => s.Name == "rmtc_run_eval_accuracy" && s.Run == "den-1");
    }
}
