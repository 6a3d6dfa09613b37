using RMTC.Farm.Coordinator.Storage;

namespace RMTC.Farm.Coordinator.DataPlane;

/// <summary>The <c>?kind=</c> of a data-plane address: which of the store's kinds a digest names (weights by default).</summary>
internal static class ArtifactKinds
{
    /// <summary>Reads the query value: absent or <c>weights</c>, or <c>torchscript</c> (a run's model file).</summary>
    public static bool TryParse(string? text, out ArtifactKind kind, out string problem)
    {
        problem = "";
        switch (text)
        {
            case null or "" or "weights":
                kind = ArtifactKind.Weights;
                return true;
            case "torchscript":
                kind = ArtifactKind.TorchScript;
                return true;
            default:
                kind = ArtifactKind.Weights;
                problem = $"kind '{text}' is not an artifact kind the data plane serves: use kind=weights (the default) or kind=torchscript";
                return false;
        }
    }

    /// <summary>The kind in words, for messages.</summary>
    public static string Describe(ArtifactKind kind) => kind == ArtifactKind.TorchScript ? "model file" : "weights";
}
