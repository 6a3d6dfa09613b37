using RMTC.Farm.Core.Rights;

namespace RMTC.Farm.Onnx.Export;

/// <summary>What an exported file says about where it came from, carried in its <c>metadata_props</c>.</summary>
public sealed class OnnxProvenance
{
    /// <summary>The run that trained the model.</summary>
    public string RunId { get; set; } = "";

    /// <summary>sha256 of the model's safetensors file (the run's final model): the file this one is a variant of.</summary>
    public string ModelDigest { get; set; } = "";

    /// <summary>Digests of every dataset the model learned from.</summary>
    public List<string> DatasetDigests { get; set; } = new();

    /// <summary>Readable names of those datasets (<c>name version</c>).</summary>
    public List<string> Datasets { get; set; } = new();

    /// <summary>The licence closure of the run (every licence, owner, consent; most restrictive right per assertion).</summary>
    public LicenceClosure LicenceClosure { get; set; } = new();

    /// <summary>The recipe (decides the graph, the input and the output).</summary>
    public string Recipe { get; set; } = "";

    /// <summary>[channels, height, width] of the training samples.</summary>
    public int[] SampleShape { get; set; } = [];

    /// <summary>Class names of a classifier, in logit order; empty otherwise.</summary>
    public List<string> Classes { get; set; } = new();

    /// <summary>
    /// Render models: the EXR channel names the model's input channels were trained on, in tensor order (the dataset's
    /// <c>render.input</c>); <c>rmtc infer</c> reads these channels from a frame. Empty for other models.
    /// </summary>
    public List<string> InputChannels { get; set; } = new();

    /// <summary>Render models: the EXR channels the output replaces (the dataset's <c>render.target</c>). Empty for other models.</summary>
    public List<string> TargetChannels { get; set; } = new();

    /// <summary>The rmtc version that wrote the file.</summary>
    public string RmtcVersion { get; set; } = "";
}
