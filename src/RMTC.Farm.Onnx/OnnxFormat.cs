namespace RMTC.Farm.Onnx;

/// <summary>What every exported file shares: IR and opset versions, tensor names, metadata keys.</summary>
public static class OnnxFormat
{
    /// <summary>The ONNX operator set (ai.onnx) the graphs use; ONNX Runtime 1.x and onnx 1.12+ read it.</summary>
    public const int Opset = 17;

    /// <summary>IR version 8 goes with opset 17 (onnx 1.12's checker accepts up to 8).</summary>
    public const int IrVersion = 8;

    /// <summary>Name of the graph input: float32 [batch, channels, height, width], values as in the training samples.</summary>
    public const string InputName = "input";

    /// <summary>Name of the image output of image-to-image recipes (same shape as the input).</summary>
    public const string ImageOutputName = "output";

    /// <summary>Name of the logits output of classifiers: [batch, classes].</summary>
    public const string LogitsOutputName = "logits";

    /// <summary>Producer name written into every file.</summary>
    public const string ProducerName = "rmtc";

    /// <summary>Model domain written into every file.</summary>
    public const string Domain = "farm.rmtc";
}

/// <summary>Keys of the provenance entries in <c>metadata_props</c>.</summary>
public static class OnnxMetadataKeys
{
    public const string Schema = "rmtc.schema";
    public const string RunId = "rmtc.run_id";
    public const string ModelDigest = "rmtc.model_digest";
    public const string ModelFormat = "rmtc.model_format";
    public const string DatasetDigests = "rmtc.dataset_digests";
    public const string Datasets = "rmtc.datasets";
    public const string LicenceClosure = "rmtc.licence_closure";
    public const string Recipe = "rmtc.recipe";
    public const string SampleShape = "rmtc.sample_shape";
    public const string Classes = "rmtc.classes";
    public const string RmtcVersion = "rmtc.version";
    /// <summary>JSON list of EXR channel names feeding the input channels (render models only).</summary>
    public const string InputChannels = "rmtc.input_channels";
    /// <summary>JSON list of EXR channel names the output channels replace (render models only).</summary>
    public const string TargetChannels = "rmtc.target_channels";

    /// <summary>Value of <see cref="Schema"/>.</summary>
    public const string SchemaValue = "rmtc.onnx/v1";
}
