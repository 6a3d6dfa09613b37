using System.CommandLine;
using RMTC.Farm.Cli.Demo;
using RMTC.Farm.Training.Recipes;

namespace RMTC.Farm.Cli.Commands;

/// <summary><c>rmtc demo</c>: a whole farm on this machine, with no server to install.</summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var agents = new Option<int>("--agents", "-a") { Description = "Agent processes to start", DefaultValueFactory = _ => 3 };
        var rounds = new Option<int>("--rounds", "-r") { Description = "Federated rounds", DefaultValueFactory = _ => 3 };
        var shards = new Option<int?>("--shards", "-s") { Description = "Shards per round (default: one per agent)" };
        var recipe = new Option<string>("--recipe") { Description = $"Recipe: {string.Join(", ", RecipeCatalog.Names)}", DefaultValueFactory = _ => "denoiser" };
        recipe.AcceptOnlyFromAmong([.. RecipeCatalog.Names]);
        var samples = new Option<int>("--samples") { Description = "Samples in the synthesized dataset", DefaultValueFactory = _ => 1200 };
        var merge = new Option<string>("--merge") { Description = "Merge strategy: fedavg or nesterov", DefaultValueFactory = _ => "fedavg" };
        merge.AcceptOnlyFromAmong("fedavg", "nesterov");
        var output = new Option<DirectoryInfo>("--out", "-o") { Description = "Where the model, manifest, dataset and logs go", DefaultValueFactory = _ => new DirectoryInfo("rmtc-demo") };
        var json = new Option<bool>("--json") { Description = "Print the summary as JSON" };
        var explore = new Option<bool>("--explore") { Description = "After the run, keep the coordinator serving the Explorer (runs, lineage graph, farm view in a browser) until Ctrl+C" };
        var command = new Command("demo",
            """
            Run a real training job on this machine: an embedded coordinator (file store, no server), N agent
            processes, a synthesized dataset, R rounds of federated averaging. Writes OUT/model.safetensors and
            OUT/run.json (the lineage manifest) and prints the loss per round. The Explorer (a browser page of the
            run, its lineage and the farm) is served while it runs; --explore keeps it serving afterwards.
            """)
        {
            agents, rounds, shards, recipe, samples, merge, output, json, explore,
        };
        command.SetAction((parse, ct) => new DemoRunner(new DemoSettings
        {
            Agents = parse.GetValue(agents),
            Rounds = parse.GetValue(rounds),
            Shards = parse.GetValue(shards) ?? parse.GetValue(agents),
            Recipe = parse.GetRequiredValue(recipe),
            Samples = parse.GetValue(samples),
            Merge = parse.GetRequiredValue(merge),
            Output = parse.GetRequiredValue(output).FullName,
            Json = parse.GetValue(json),
            Explore = parse.GetValue(explore),
        }).RunAsync(ct));
        return command;
    }
}
