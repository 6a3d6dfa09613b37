namespace RMTC.Farm.Core.Lineage;

/// <summary>How a run's samples were dealt to shards.</summary>
public sealed class ShardPlanRecord
{
    /// <summary><c>iid</c> or <c>by-label</c>.</summary>
    public string Strategy { get; set; } = "";
    /// <summary>Digest of the plan's JSON in the artifact store: per shard, the sample indices it trains on.</summary>
    public string Digest { get; set; } = "";
}

/// <summary>One held-out split of the dataset.</summary>
public sealed class SplitRecord
{
    public string Name { get; set; } = "";
    public int Samples { get; set; }
    /// <summary>sha256 over the split's asset digests, as the dataset digest is made.</summary>
    public string Digest { get; set; } = "";
}

/// <summary>What the global model is evaluated on after each round.</summary>
public sealed class EvaluationRecord
{
    public string Split { get; set; } = "";
    public int Samples { get; set; }
    /// <summary>sha256 over the split's asset digests.</summary>
    public string Digest { get; set; } = "";
    /// <summary>Digest of the JSON list of the split's assets (path, sha256) in the artifact store.</summary>
    public string AssetsDigest { get; set; } = "";
    /// <summary><c>accuracy</c> (classifiers) or <c>psnr</c> (image pairs), beside the loss.</summary>
    public string Metric { get; set; } = "";
}

/// <summary>A round's merged model on the evaluation split.</summary>
public sealed class RoundEvaluation
{
    /// <summary>The recipe's loss (cross-entropy or MSE), averaged over the split.</summary>
    public double Loss { get; set; }
    /// <summary>Share of samples whose argmax is the label (classifiers).</summary>
    public double? Accuracy { get; set; }
    /// <summary>10·log10(1/MSE) in dB (image pairs, pixels in 0..1).</summary>
    public double? Psnr { get; set; }
    public int Samples { get; set; }
    public double Seconds { get; set; }
}
