namespace RMTC.Farm.Core.Datasets.Render;

/// <summary>
/// How a <c>render-pairs</c> dataset was cut from its renders (<c>render:</c> in <c>dataset.yaml</c>): the EXR channels
/// of each sample's input and target, in tensor order, the patch size and stride, how the splits were drawn, and every
/// source frame with the digests of its two EXR files (the assets lineage follows back to the renders).
/// </summary>
public sealed class RenderPatching
{
    /// <summary>Folder the frames were imported from (absolute); source paths are relative to it.</summary>
    public string Source { get; set; } = "";
    /// <summary>EXR channel names of the input tensor, in its channel order (e.g. <c>ViewLayer.Combined.R</c>).</summary>
    public List<string> Input { get; set; } = new();
    /// <summary>EXR channel names of the target tensor, in its channel order.</summary>
    public List<string> Target { get; set; } = new();
    /// <summary>Side of each square patch, in pixels.</summary>
    public int Patch { get; set; }
    /// <summary>Step between patch origins; the last row and column are moved flush to the frame's edge.</summary>
    public int Stride { get; set; }
    /// <summary>How held-out frames were chosen: <c>folders</c> (train/ and test/ in the source), <c>frame</c>, <c>scene</c> or <c>none</c>.</summary>
    public string SplitBy { get; set; } = RenderSplits.None;
    /// <summary>Every source frame pair, in import order.</summary>
    public List<RenderFrame> Frames { get; set; } = new();

    /// <summary>
    /// The source EXR files (absolute path at import, sha256) of every frame with a sample among
    /// <paramref name="sampleRelativePaths"/>: noisy then clean, in frame order. What lineage records as the assets of a run.
    /// </summary>
    public IEnumerable<(string Path, string Sha256)> SourcesOf(IEnumerable<string> sampleRelativePaths)
    {
        var used = sampleRelativePaths.Select(FrameOf).OfType<RenderFrame>().ToHashSet();
        foreach (var frame in Frames.Where(used.Contains))
        {
            yield return (System.IO.Path.Combine(Source, frame.Noisy.Path), frame.Noisy.Sha256);
            yield return (System.IO.Path.Combine(Source, frame.Clean.Path), frame.Clean.Sha256);
        }
    }

    /// <summary>Whether the sample at <paramref name="sampleRelativePath"/> was cut from a frame whose noisy or clean EXR has one of <paramref name="digests"/>.</summary>
    public bool CutFrom(string sampleRelativePath, IReadOnlySet<string> digests) =>
        FrameOf(sampleRelativePath) is { } f && (digests.Contains(f.Noisy.Sha256) || digests.Contains(f.Clean.Sha256));

    /// <summary>The frames whose noisy or clean EXR has the sha256 <paramref name="digest"/>.</summary>
    public IEnumerable<RenderFrame> FramesOf(string digest) =>
        Frames.Where(f => string.Equals(f.Noisy.Sha256, digest, StringComparison.Ordinal) || string.Equals(f.Clean.Sha256, digest, StringComparison.Ordinal));

    /// <summary>The frame whose patches live in the folder holding <paramref name="sampleRelativePath"/>, or null.</summary>
    public RenderFrame? FrameOf(string sampleRelativePath)
    {
        var slash = sampleRelativePath.LastIndexOf('/');
        if (slash < 0)
        {
            return null;
        }

        // Built once: a run asks for every sample's frame, and a dataset may hold thousands of frames.
        if (_byFolder is null || _byFolder.Count != Frames.Count)
        {
            _byFolder = Frames.GroupBy(f => f.Samples, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        }

        return _byFolder.GetValueOrDefault(sampleRelativePath[..slash]);
    }

    private Dictionary<string, RenderFrame>? _byFolder;
}

/// <summary>One source frame: its noisy and clean EXR files and the folder of patches cut from them.</summary>
public sealed class RenderFrame
{
    /// <summary>The file name both EXRs share (e.g. <c>scene003_0001.exr</c>).</summary>
    public string Name { get; set; } = "";
    /// <summary>The scene the frame belongs to (its folder, or its name without the trailing frame number).</summary>
    public string Scene { get; set; } = "";
    /// <summary>The split it went to, or empty when the dataset has no splits.</summary>
    public string Split { get; set; } = "";
    /// <summary>Folder of its patch samples, relative to the dataset (e.g. <c>samples/test/scene003_0001</c>).</summary>
    public string Samples { get; set; } = "";
    /// <summary>Patches cut from it.</summary>
    public int Patches { get; set; }
    /// <summary>The noisy render.</summary>
    public RenderFile Noisy { get; set; } = new();
    /// <summary>The clean (reference) render.</summary>
    public RenderFile Clean { get; set; } = new();
}

/// <summary>A source EXR file: path relative to <see cref="RenderPatching.Source"/> and the sha256 of its bytes.</summary>
public sealed class RenderFile
{
    public string Path { get; set; } = "";
    public string Sha256 { get; set; } = "";
}

/// <summary>Spellings of <see cref="RenderPatching.SplitBy"/>.</summary>
public static class RenderSplits
{
    /// <summary>The source's own <c>train/</c> and <c>test/</c> folders.</summary>
    public const string Folders = "folders";
    /// <summary>Held-out frames drawn one by one.</summary>
    public const string Frame = "frame";
    /// <summary>Held-out scenes drawn whole: every frame of a scene lands in one split.</summary>
    public const string Scene = "scene";
    /// <summary>No held-out frames.</summary>
    public const string None = "none";

    /// <summary>Every known value.</summary>
    public static IReadOnlyList<string> All { get; } = [Folders, Frame, Scene, None];
}
