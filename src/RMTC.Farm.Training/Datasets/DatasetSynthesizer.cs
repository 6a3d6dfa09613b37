namespace RMTC.Farm.Training.Datasets;

/// <summary>Procedural datasets so nothing needs a download: render-like noisy/clean patches, labelled patterns.</summary>
public static class DatasetSynthesizer
{
    /// <summary>Writes a dataset for <paramref name="recipe"/> into <paramref name="outputDirectory"/> (dataset.yaml + samples/). Returns the sample count.</summary>
    public static int Synthesize(string recipe, string outputDirectory, int samples, long seed, IProgress<int>? progress = null) => throw new NotImplementedException();
}
