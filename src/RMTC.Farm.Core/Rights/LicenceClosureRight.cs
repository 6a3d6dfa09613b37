namespace RMTC.Farm.Core.Rights;

/// <summary>One CAWG assertion in a <see cref="LicenceClosure"/>: the most restrictive value any source gives it.</summary>
public sealed class LicenceClosureRight
{
    /// <summary><c>allowed</c>, <c>constrained</c>, <c>unspecified</c> or <c>notAllowed</c> (see <see cref="RightsStrictness"/>).</summary>
    public string Use { get; set; } = RightsStrictness.Unspecified;

    /// <summary>Every constraint_info any source attaches to this assertion, sorted: all of them bind the result.</summary>
    public List<string> ConstraintInfo { get; set; } = new();
}
