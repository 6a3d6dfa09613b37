namespace RMTC.Farm.Core.Datasets;

/// <summary>The contents of a dataset's <c>dataset.yaml</c>: identity, kind, and the rights it is offered under.</summary>
public sealed class DatasetDescriptor
{
    public string Name { get; set; } = "";
    public string Version { get; set; } = "1";
    public string Description { get; set; } = "";
    /// <summary>SPDX identifier or a named studio licence.</summary>
    public string Licence { get; set; } = "";
    public string Owner { get; set; } = "";
    public string Consent { get; set; } = "";
    /// <summary>Rights assertions by label (e.g. <c>cawg.ai_training: allowed</c>).</summary>
    public Dictionary<string, string> Rights { get; set; } = new();
    /// <summary><c>image-pairs</c> (input + target images) or <c>labelled-images</c> (input + class label).</summary>
    public string Kind { get; set; } = "";
    /// <summary>Shape of one sample's input, [channels, height, width].</summary>
    public int[] SampleShape { get; set; } = [];
    /// <summary>Class names for <c>labelled-images</c>; empty otherwise.</summary>
    public List<string> Classes { get; set; } = new();
}
