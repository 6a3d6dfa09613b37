using System.Text.Json.Serialization;
using RMTC.Farm.Core.Datasets;

namespace RMTC.Farm.Core.Rights;

/// <summary>
/// The value of one rights assertion: <see cref="Use"/> is <c>allowed</c>, <c>notAllowed</c> or <c>constrained</c>
/// (<see cref="DatasetRights"/> spellings); <see cref="ConstraintInfo"/> states the constraint and is set only when constrained.
/// </summary>
/// <remarks>
/// JSON: a bare string when there is no constraint_info (the form manifests have always used, so manifests sealed
/// before constraint_info existed still re-digest to the same bytes), else <c>{ "use": ..., "constraintInfo": ... }</c>.
/// </remarks>
[JsonConverter(typeof(RightsAssertionJsonConverter))]
public sealed record RightsAssertion(string Use, string? ConstraintInfo = null)
{
    /// <summary><c>allowed</c>.</summary>
    public static RightsAssertion Allowed { get; } = new(DatasetRights.Allowed);

    /// <summary><c>notAllowed</c>.</summary>
    public static RightsAssertion NotAllowed { get; } = new(DatasetRights.NotAllowed);

    /// <summary><c>constrained</c> with the text stating the constraint.</summary>
    public static RightsAssertion Constrained(string constraintInfo) => new(DatasetRights.Constrained, constraintInfo);

    /// <summary>
    /// A value with no constraint_info, from its spelling: the bare-string form manifests and older code use for
    /// rights, so a <c>Dictionary&lt;string, RightsAssertion&gt;</c> can still be filled with <c>["label"] = "allowed"</c>.
    /// </summary>
    public static implicit operator RightsAssertion(string use) => new(use);

    /// <summary>As written in messages: <c>notAllowed</c>, or <c>constrained (constraint_info "...")</c>.</summary>
    public override string ToString() => ConstraintInfo is null ? Use : $"{Use} (constraint_info \"{ConstraintInfo}\")";
}
