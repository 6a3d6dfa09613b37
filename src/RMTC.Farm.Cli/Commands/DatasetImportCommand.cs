using System.CommandLine;
using System.Diagnostics;
using RMTC.Farm.Core.Datasets;
using RMTC.Farm.Core.Datasets.Import;
using RMTC.Farm.Core.Datasets.Render;
using RMTC.Farm.Core.Rights;

namespace RMTC.Farm.Cli.Commands;

/// <summary><c>rmtc dataset import idx|images|exr SOURCE --out DIR</c>: standard formats into our dataset layout.</summary>
internal static class DatasetImportCommand
{
    public static Command Create()
    {
        var import = new Command("import", "Import a dataset from a standard format (IDX files, PNG folders, EXR render pairs) into dataset.yaml + samples/, with its licence and rights.");
        import.Subcommands.Add(Sub("idx",
            "Import the MNIST family from IDX files (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], and t10k-* as the held-out test split), e.g. /usr/share/datasets/fashion-mnist.",
            [], _ => IdxImport.Import));
        import.Subcommands.Add(Sub("images",
            "Import PNG folders: one folder per class (labelled-images), or noisy/ + clean/ with files of the same names (image-pairs); train/ and test/ folders become splits.",
            [], _ => ImageFolderImport.Import));
        import.Subcommands.Add(Exr());
        return import;
    }

    private static Command Exr()
    {
        var input = new Option<string?>("--input") { Description = "Input channels as LAYER.COMPONENTS groups, comma-separated, in tensor order (default: beauty, albedo, normal in Blender's, RenderMan's or Arnold's names: Combined.RGB,Denoising Albedo.RGB,Denoising Normal.XYZ | Ci.RGB,albedo.RGB,normal.XYZ | RGB,albedo.RGB,N.XYZ)" };
        var target = new Option<string?>("--target") { Description = "Target channels from the clean frames (default: the beauty, e.g. Combined.RGB)" };
        var patch = new Option<int>("--patch") { Description = "Patch side in pixels", DefaultValueFactory = _ => 64 };
        var stride = new Option<int>("--stride") { Description = "Step between patches (at most --patch; the last row and column sit flush to the edge)", DefaultValueFactory = _ => 48 };
        var splitBy = new Option<string?>("--split-by") { Description = "Hold out whole frames (frame) or whole scenes (scene: a subfolder, or the name before the frame number); needs --holdout. Not with train/ and test/ folders, which are the splits" };
        var holdout = new Option<double>("--holdout") { Description = "Fraction of frames or scenes held out as the test split, e.g. 0.2" };
        return Sub("exr",
            "Import EXR render pairs (render-pairs): noisy/ + clean/ frames with the same file names (subfolders are scenes; train/ and test/ folders become splits), "
            + "channels picked by name, cut into patches. Each source EXR is an asset: its sha256 is what `rmtc lineage impact --asset` takes.\n\n"
            + "Examples:\n"
            + "  rmtc dataset import exr renders/ --out data/renders --licence LicenseRef-studio --allow cawg.ai_training\n"
            + "  rmtc dataset import exr renders/ --out data/renders --input 'Combined.RGB,Denoising Albedo.RGB,Denoising Normal.XYZ' --target Combined.RGB --patch 64 --stride 48\n"
            + "  rmtc dataset import exr renders/ --out data/renders --split-by scene --holdout 0.2",
            [input, target, patch, stride, splitBy, holdout],
            parse =>
            {
                var options = new RenderImportOptions
                {
                    Input = parse.GetValue(input),
                    Target = parse.GetValue(target),
                    Patch = parse.GetValue(patch),
                    Stride = parse.GetValue(stride),
                    SplitBy = parse.GetValue(splitBy),
                    Holdout = parse.GetValue(holdout),
                };
                return (source, output, metadata, progress) => RenderPairImport.Import(source, output, metadata, options, progress);
            });
    }

    private static Command Sub(
        string name, string description, Option[] extra,
        Func<ParseResult, Func<string, string, DatasetMetadata, IProgress<string>?, IReadOnlyDictionary<string, int>>> importerOf)
    {
        var source = new Argument<DirectoryInfo>("SOURCE") { Description = "Folder holding the files to import" };
        var output = new Option<DirectoryInfo>("--out", "-o") { Description = "New dataset directory to write", Required = true };
        var metadata = new Option<FileInfo?>("--metadata", "-m") { Description = "Sidecar YAML with name, version, description, licence, owner, consent, rights, classes (flags override it)" };
        var dsName = new Option<string?>("--name") { Description = "Dataset name (default: the source folder's name)" };
        var version = new Option<string?>("--version") { Description = "Dataset version (default 1)" };
        var licence = new Option<string?>("--licence", "--license") { Description = "SPDX licence id or LicenseRef-..., e.g. MIT" };
        var owner = new Option<string?>("--owner") { Description = "Who owns the data" };
        var consent = new Option<string?>("--consent") { Description = "How consent was obtained" };
        var allow = new Option<string[]>("--allow") { Description = $"CAWG assertion the data allows (repeatable): {string.Join(", ", CawgAssertions.All)}", AllowMultipleArgumentsPerToken = false };
        var deny = new Option<string[]>("--deny") { Description = "CAWG assertion the data does not allow (repeatable)" };
        var classes = new Option<string?>("--classes") { Description = "Class names in label order, comma-separated (default: folder names, or 0..n-1 for IDX)" };
        var command = new Command(name, description) { source, output, metadata, dsName, version, licence, owner, consent, allow, deny };
        // Render pairs have no classes.
        if (extra.Length == 0)
        {
            command.Options.Add(classes);
        }

        foreach (var option in extra)
        {
            command.Options.Add(option);
        }

        command.SetAction(parse =>
        {
            try
            {
                var rights = new Dictionary<string, RightsAssertion>(StringComparer.Ordinal);
                foreach (var label in parse.GetValue(allow) ?? [])
                {
                    rights[CawgAssertions.Normalise(label)] = RightsAssertion.Allowed;
                }

                foreach (var label in parse.GetValue(deny) ?? [])
                {
                    rights[CawgAssertions.Normalise(label)] = RightsAssertion.NotAllowed;
                }

                var flags = new DatasetMetadata
                {
                    Name = parse.GetValue(dsName),
                    Version = parse.GetValue(version),
                    Licence = parse.GetValue(licence),
                    Owner = parse.GetValue(owner),
                    Consent = parse.GetValue(consent),
                    Rights = rights,
                    Classes = parse.GetValue(classes)?.Split(',', StringSplitOptions.TrimEntries),
                };
                var meta = (parse.GetValue(metadata) is { } file ? DatasetMetadata.ReadSidecar(file.FullName) : new DatasetMetadata()).With(flags);
                var dir = parse.GetRequiredValue(output).FullName;
                var clock = Stopwatch.StartNew();
                var counts = importerOf(parse)(parse.GetRequiredValue(source).FullName, dir, meta, new Progress(clock));
                Console.WriteLine($"[{clock.Elapsed.TotalSeconds,6:F1} s] hashing samples");
                var dataset = Dataset.Open(dir);
                var d = dataset.Descriptor;
                Console.WriteLine($"[{clock.Elapsed.TotalSeconds,6:F1} s] wrote {string.Join(", ", counts.Select(c => c.Key.Length > 0 ? $"{c.Value} {c.Key}" : $"{c.Value}"))} samples to {dir}");
                Console.WriteLine($"dataset {d.Name} v{d.Version} ({d.Kind} [{string.Join(", ", d.SampleShape)}]{(d.Classes.Count > 0 ? $", {d.Classes.Count} classes" : "")}), licence {(d.Licence.Length > 0 ? d.Licence : "(none)")}, sha256:{dataset.Digest}");
                if (d.Rights.Count == 0)
                {
                    Console.WriteLine("note: no rights recorded, so no job may train on it yet: re-import with --allow cawg.ai_training (or a metadata file)");
                }

                return 0;
            }
            catch (Exception e) when (e is DatasetException or ArgumentException)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                return 2;
            }
        });
        return command;
    }

    /// <summary>Prints each step with the time since the import began.</summary>
    private sealed class Progress(Stopwatch clock) : IProgress<string>
    {
        public void Report(string value) => Console.WriteLine($"[{clock.Elapsed.TotalSeconds,6:F1} s] {value}");
    }
}
