using RMTC.Farm.Core.Datasets;

namespace RMTC.Farm.Core.Rights;

/// <summary>Whether a model may run inference, from the <c>cawg.ai_inference</c> term of its licence closure.</summary>
/// <remarks>
/// Only an explicit refusal (<c>notAllowed</c>, or a value nobody understands, which ranks the same) refuses: data that
/// says nothing about inference was accepted for training, and inference was not what its owner ruled on. Constraints
/// are passed on so the caller can show them.
/// </remarks>
public static class InferencePermission
{
    /// <summary>The closure's term for inference and, when refused, the reason naming the assertion and the data.</summary>
    public static (bool Allowed, string Use, IReadOnlyList<string> Constraints, string? Reason) Check(LicenceClosure? closure)
    {
        var right = closure?.Rights.GetValueOrDefault(CawgAssertions.AiInference);
        var use = right?.Use ?? RightsStrictness.Unspecified;
        var constraints = (IReadOnlyList<string>?)right?.ConstraintInfo ?? [];
        if (RightsStrictness.Rank(use) < RightsStrictness.Rank(DatasetRights.NotAllowed))
        {
            return (true, use, constraints, null);
        }

        var owners = closure is { Owners.Count: > 0 } ? $" (owners: {string.Join(", ", closure.Owners)})" : "";
        return (false, use, constraints,
            $"inference refused: the model's licence closure says {CawgAssertions.AiInference}: {use}; data it was trained on{owners} forbids using it for AI inference");
    }
}
