using System.CommandLine;
using RMTC.Farm.Core.Datasets;
using RMTC.Farm.Training.Datasets;
using RMTC.Farm.Training.Recipes;

namespace RMTC.Farm.Cli.Commands;

/// <summary><c>rmtc dataset ...</c>: make and inspect datasets.</summary>
internal static class DatasetCommand
{
    public static Command Create()
    {
        var recipe = new Option<string>("--recipe", "-r") { Description = $"Recipe the data is for: {string.Join(", ", RecipeCatalog.Names)}", Required = true };
        recipe.AcceptOnlyFromAmong([.. RecipeCatalog.Names]);
        var output = new Option<DirectoryInfo>("--out", "-o") { Description = "Directory to write (dataset.yaml + samples/)", Required = true };
        var samples = new Option<int>("--samples", "-n") { Description = "Number of samples", DefaultValueFactory = _ => 1200 };
        var seed = new Option<long>("--seed") { Description = "Seed (same seed, same bytes)", DefaultValueFactory = _ => 7 };
        var synth = new Command("synth", "Generate a procedural dataset (render-like noisy/clean patches, or labelled patterns): nothing to download.")
        {
            recipe, output, samples, seed,
        };
        synth.SetAction(parse =>
        {
            var dir = parse.GetRequiredValue(output).FullName;
            var n = parse.GetValue(samples);
            if (n < 1)
            {
                Console.Error.WriteLine("error: --samples must be at least 1");
                return 2;
            }

            var count = DatasetSynthesizer.Synthesize(parse.GetRequiredValue(recipe), dir, n, parse.GetValue(seed));
            var dataset = Dataset.Open(dir);
            Console.WriteLine($"wrote {count} samples to {dir}");
            Console.WriteLine($"dataset {dataset.Descriptor.Name} v{dataset.Descriptor.Version} ({dataset.Descriptor.Kind}), licence {dataset.Descriptor.Licence}, sha256:{dataset.Digest}");
            return 0;
        });

        var path = new Argument<DirectoryInfo>("DIR") { Description = "Dataset directory" };
        var show = new Command("show", "Check a dataset and print its identity (name, licence, digest, samples).") { path };
        show.SetAction(parse =>
        {
            try
            {
                var d = Dataset.Open(parse.GetRequiredValue(path).FullName);
                Console.WriteLine($"dataset   {d.Descriptor.Name} v{d.Descriptor.Version}");
                Console.WriteLine($"kind      {d.Descriptor.Kind}, sample shape [{string.Join(", ", d.Descriptor.SampleShape)}]");
                Console.WriteLine($"licence   {d.Descriptor.Licence}, owner {d.Descriptor.Owner}");
                Console.WriteLine($"samples   {d.Samples.Count}");
                if (d.Descriptor.Render is { } r)
                {
                    Console.WriteLine($"render    {r.Frames.Count} frame pairs from {r.Source} (splits: {r.SplitBy}), patch {r.Patch}, stride {r.Stride}");
                    Console.WriteLine($"input     {string.Join(", ", r.Input)}");
                    Console.WriteLine($"target    {string.Join(", ", r.Target)}");
                }

                Console.WriteLine($"digest    sha256:{d.Digest}");
                return 0;
            }
            catch (DatasetException e)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                return 2;
            }
        });
        return new Command("dataset", "Make, import and inspect datasets.") { synth, show, DatasetImportCommand.Create() };
    }
}
