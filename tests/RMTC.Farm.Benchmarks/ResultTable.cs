using System.Globalization;

namespace RMTC.Farm.Benchmarks;

/// <summary>One table of figures, each beside the limit it is measured against and their ratio.</summary>
internal sealed class ResultTable
{
    private readonly List<(string Name, string Value, string Limit, string Ratio, string Target)> _rows = new();

    public void Add(string name, double value, string unit, double limit, string limitName, string target, bool higherIsBetter = true)
    {
        var inv = CultureInfo.InvariantCulture;
        var ratio = higherIsBetter ? value / limit : limit / value;
        _rows.Add((name, string.Create(inv, $"{value:N1} {unit}"), string.Create(inv, $"{limit:N1} {unit} ({limitName})"), string.Create(inv, $"{ratio:F3}"), target));
        Console.WriteLine(string.Create(inv, $"  {name}: {value:N1} {unit} vs {limit:N1} ({limitName}) -> {ratio:F3}"));
    }

    public void Print(TextWriter output)
    {
        var widths = new[]
        {
            Math.Max(6, _rows.Max(r => r.Name.Length)),
            Math.Max(6, _rows.Max(r => r.Value.Length)),
            Math.Max(6, _rows.Max(r => r.Limit.Length)),
            6,
        };
        output.WriteLine();
        output.WriteLine($"{"figure".PadRight(widths[0])}  {"value".PadRight(widths[1])}  {"machine limit (same run)".PadRight(widths[2])}  {"ratio".PadRight(widths[3])}  target");
        foreach (var r in _rows)
        {
            output.WriteLine($"{r.Name.PadRight(widths[0])}  {r.Value.PadRight(widths[1])}  {r.Limit.PadRight(widths[2])}  {r.Ratio.PadRight(widths[3])}  {r.Target}");
        }
    }
}
