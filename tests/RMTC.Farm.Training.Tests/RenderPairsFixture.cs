using RMTC.Farm.Core.Datasets;
using RMTC.Farm.Core.Datasets.Import;
using RMTC.Farm.Core.Datasets.Render;
using RMTC.Farm.Core.Rights;
using RMTC.Farm.Training.Datasets;

namespace RMTC.Farm.Training.Tests;

/// <summary>
/// Writes a small render-pairs dataset as a studio would make one: procedural frames written as train/ and test/
/// noisy/ and clean/ EXR files with Blender's channel names, imported by `rmtc dataset import exr`'s code.
/// </summary>
internal static class RenderPairsFixture
{
    public static void Write(string directory, int trainFrames, int testFrames, int frameSize = 64, int patch = 32, int stride = 32, long seed = 1)
    {
        var sources = Path.Combine(Path.GetDirectoryName(directory)!, Path.GetFileName(directory) + "-renders");
        for (var f = 0; f < trainFrames + testFrames; f++)
        {
            var split = f < trainFrames ? DatasetSplits.Train : DatasetSplits.Test;
            var name = $"frame{f:D4}.exr";
            var (clean, noisy) = HdrFrameSynthesizer.Frame(frameSize, frameSize, seed + f);
            Directory.CreateDirectory(Path.Combine(sources, split, "noisy"));
            Directory.CreateDirectory(Path.Combine(sources, split, "clean"));
            HdrFrameSynthesizer.WriteExr(Path.Combine(sources, split, "noisy", name), noisy, frameSize, frameSize);
            HdrFrameSynthesizer.WriteExr(Path.Combine(sources, split, "clean", name), clean, frameSize, frameSize);
        }

        RenderPairImport.Import(sources, directory, new DatasetMetadata
        {
            Licence = "CC0-1.0",
            Owner = "tests",
            Consent = "procedural",
            Rights = CawgAssertions.All.ToDictionary(label => label, _ => RightsAssertion.Allowed),
        }, new RenderImportOptions { Patch = patch, Stride = stride });
    }
}
