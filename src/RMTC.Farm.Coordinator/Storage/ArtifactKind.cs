namespace RMTC.Farm.Coordinator.Storage;

/// <summary>What an artifact holds. Two kinds never share a name even when their bytes do.</summary>
public enum ArtifactKind
{
    /// <summary>Model weights, momentum and checkpoints: a safetensors file.</summary>
    Weights,

    /// <summary>A JSON document (a dataset's asset list, a shard plan).</summary>
    Json,

    /// <summary>An ONNX export of a model.</summary>
    Onnx,

    /// <summary>A TorchScript model file (a spec's <c>model:</c> block): the run's code, fetched by agents like weights.</summary>
    TorchScript,
}
