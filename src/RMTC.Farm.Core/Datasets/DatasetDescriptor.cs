using RMTC.Farm.Core.Datasets.Render;
using RMTC.Farm.Core.Rights;

namespace RMTC.Farm.Core.Datasets;

/// <summary>The contents of a dataset's <c>dataset.yaml</c>: identity, kind, and the rights it is offered under.</summary>
public sealed class DatasetDescriptor
{
    public string Name { get; set; } = "";
    public string Version { get; set; } = "1";
    public string Description { get; set; } = "";
    /// <summary>SPDX identifier or a named studio licence (<c>licence</c> or <c>license</c> in the YAML).</summary>
    public string Licence { get; set; } = "";
    public string Owner { get; set; } = "";
    public string Consent { get; set; } = "";
    /// <summary>
    /// Rights assertions of every asset by <c>cawg.*</c> label (legacy <c>c2pa.*</c> spellings are normalised when read);
    /// a label absent here is unspecified, which no training accepts.
    /// </summary>
    public Dictionary<string, RightsAssertion> Rights { get; set; } = new(StringComparer.Ordinal);
    /// <summary>Per-asset terms that differ from the dataset's (<c>assets:</c> in the YAML); each must match an asset.</summary>
    public List<AssetRightsOverride> Assets { get; set; } = new();
    /// <summary><c>image-pairs</c> (input + target images) or <c>labelled-images</c> (input + class label); see <see cref="DatasetKinds"/>.</summary>
    public string Kind { get; set; } = "";
    /// <summary>Shape of one sample's input, [channels, height, width].</summary>
    public int[] SampleShape { get; set; } = [];
    /// <summary>Class names for <c>labelled-images</c>; empty otherwise.</summary>
    public List<string> Classes { get; set; } = new();
    /// <summary>
    /// Named splits (<c>splits:</c> in the YAML): split name -> folder of samples, e.g. <c>test: samples/test</c>. Every
    /// split but <c>train</c> is held out: no run trains on it (see <see cref="DatasetSplits"/>).
    /// </summary>
    public Dictionary<string, string> Splits { get; set; } = new(StringComparer.Ordinal);
    /// <summary>For <c>render-pairs</c>: the channels, patching, splits and source frames (<c>render:</c> in the YAML); null otherwise.</summary>
    public RenderPatching? Render { get; set; }

    /// <summary><c>render-pairs</c>: the EXR channel behind each input channel, in tensor order (<c>render.input</c>); empty for other kinds.</summary>
    public IReadOnlyList<string> InputChannels => Render?.Input ?? [];

    /// <summary><c>render-pairs</c>: the EXR channels of the target, in tensor order (<c>render.target</c>); empty for other kinds.</summary>
    public IReadOnlyList<string> TargetChannels => Render?.Target ?? [];

    /// <summary>Shape of one sample's target: [target channels, height, width] for <c>render-pairs</c>, the input's shape otherwise.</summary>
    public int[] TargetShape => Kind == DatasetKinds.RenderPairs && SampleShape.Length == 3
        ? [TargetChannels.Count, SampleShape[1], SampleShape[2]]
        : SampleShape;
}

/// <summary>The dataset kinds and the tensors each sample file holds.</summary>
public static class DatasetKinds
{
    /// <summary>Each sample holds <c>input</c> and <c>target</c>, both F32 [C,H,W] (e.g. noisy and clean render patches).</summary>
    public const string ImagePairs = "image-pairs";

    /// <summary>Each sample holds <c>input</c> F32 [C,H,W] and <c>label</c> I64 scalar (shape []), an index into the classes.</summary>
    public const string LabelledImages = "labelled-images";

    /// <summary>
    /// Each sample holds <c>input</c> F32 [C_in,P,P] and <c>target</c> F32 [C_target,P,P]: one patch of linear HDR EXR
    /// channels cut from a noisy render and the same patch of its clean render; <c>render:</c> in <c>dataset.yaml</c>
    /// names the channels, the patching and the source frames (see <see cref="RenderPatching"/>).
    /// </summary>
    public const string RenderPairs = "render-pairs";

    /// <summary>Every known kind.</summary>
    public static IReadOnlyList<string> All { get; } = [ImagePairs, LabelledImages, RenderPairs];

    /// <summary>Name of the input tensor in every sample file.</summary>
    public const string InputTensor = "input";

    /// <summary>Name of the target tensor in <see cref="ImagePairs"/> sample files.</summary>
    public const string TargetTensor = "target";

    /// <summary>Name of the label tensor in <see cref="LabelledImages"/> sample files.</summary>
    public const string LabelTensor = "label";
}

/// <summary>Spellings of <see cref="RightsAssertion.Use"/>, as stored (YAML input is matched case-insensitively).</summary>
public static class DatasetRights
{
    public const string Allowed = "allowed";
    public const string NotAllowed = "notAllowed";
    public const string Constrained = "constrained";

    /// <summary>Every known value.</summary>
    public static IReadOnlyList<string> All { get; } = [Allowed, NotAllowed, Constrained];
}
