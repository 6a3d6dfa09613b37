using RMTC.Farm.Core.Datasets;

namespace RMTC.Farm.Core.Rights;

/// <summary>
/// Everything a model inherits from the terms of the data (and, later, base weights) it was built from: every licence,
/// owner and consent note, and for each CAWG assertion the most restrictive value of any source.
/// </summary>
/// <remarks>
/// Closures compose: the closure of a model built from models is <see cref="Merge"/> of theirs, and merging is
/// associative and commutative, so lineage can be folded in any order. Serialised with System.Text.Json (camelCase
/// property names; assertion labels are keys and keep their spelling).
/// </remarks>
public sealed class LicenceClosure
{
    /// <summary>Stands for a source that names no licence (the SPDX spelling), so a gap stays visible.</summary>
    public const string NoAssertion = "NOASSERTION";

    /// <summary>Distinct licences (SPDX ids or named studio licences), sorted ordinally.</summary>
    public List<string> Licences { get; set; } = new();

    /// <summary>Distinct owners, sorted ordinally.</summary>
    public List<string> Owners { get; set; } = new();

    /// <summary>Distinct consent notes, sorted ordinally.</summary>
    public List<string> Consents { get; set; } = new();

    /// <summary>Identifiers of the sources folded in (see <see cref="RightsSource.Id"/>), sorted ordinally.</summary>
    public List<string> Sources { get; set; } = new();

    /// <summary>Per assertion label: every CAWG label (in <see cref="CawgAssertions.All"/> order), then any other label a source carried.</summary>
    public Dictionary<string, LicenceClosureRight> Rights { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// The closure of <paramref name="sources"/>; with none, every assertion is unspecified. A
    /// <see cref="RightsSource.TermsOnly"/> source (a model file) adds its licence and id and leaves the rights to the others.
    /// </summary>
    public static LicenceClosure Of(IEnumerable<RightsSource> sources)
    {
        ArgumentNullException.ThrowIfNull(sources);
        var all = sources.ToList();
        var closure = Merge(all.Where(s => !s.TermsOnly).Select(Single).ToArray());
        var terms = all.Where(s => s.TermsOnly).ToList();
        if (terms.Count > 0)
        {
            closure.Licences = Union(closure.Licences.Concat(terms.Select(t => string.IsNullOrWhiteSpace(t.Licence) ? NoAssertion : t.Licence)));
            closure.Owners = Union(closure.Owners.Concat(terms.Select(t => t.Owner)));
            closure.Sources = Union(closure.Sources.Concat(terms.Select(t => t.Id)));
        }

        return closure;
    }

    /// <summary>The closure of everything the given closures were built from.</summary>
    public static LicenceClosure Merge(params LicenceClosure[] closures)
    {
        ArgumentNullException.ThrowIfNull(closures);
        var merged = new LicenceClosure
        {
            Licences = Union(closures.SelectMany(c => c.Licences)),
            Owners = Union(closures.SelectMany(c => c.Owners)),
            Consents = Union(closures.SelectMany(c => c.Consents)),
            Sources = Union(closures.SelectMany(c => c.Sources)),
        };
        foreach (var label in Labels(closures.SelectMany(c => c.Rights.Keys)))
        {
            var use = closures.Length == 0 ? RightsStrictness.Unspecified : DatasetRights.Allowed;
            var info = new List<string>();
            foreach (var c in closures)
            {
                // A closure without the label never saw it declared: that is unspecified, not a pass.
                var right = c.Rights.GetValueOrDefault(label);
                use = RightsStrictness.MostRestrictive(use, right?.Use ?? RightsStrictness.Unspecified);
                info.AddRange(right?.ConstraintInfo ?? []);
            }

            merged.Rights[label] = new LicenceClosureRight { Use = use, ConstraintInfo = Union(info) };
        }

        return merged;
    }

    private static LicenceClosure Single(RightsSource source)
    {
        var closure = new LicenceClosure
        {
            Licences = [string.IsNullOrWhiteSpace(source.Licence) ? NoAssertion : source.Licence.Trim()],
            Owners = Union([source.Owner]),
            Consents = Union([source.Consent]),
            Sources = Union([source.Id]),
        };
        foreach (var label in Labels(source.Rights.Keys))
        {
            var value = source.Rights.GetValueOrDefault(label);
            closure.Rights[label] = new LicenceClosureRight
            {
                Use = value?.Use ?? RightsStrictness.Unspecified,
                ConstraintInfo = Union([value?.ConstraintInfo]),
            };
        }

        return closure;
    }

    /// <summary>The CAWG labels in their fixed order, then the others sorted: the same JSON for the same closure.</summary>
    private static IEnumerable<string> Labels(IEnumerable<string> carried) =>
        CawgAssertions.All.Concat(carried.Except(CawgAssertions.All, StringComparer.Ordinal).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal));

    private static List<string> Union(IEnumerable<string?> values) =>
        values.Where(v => !string.IsNullOrWhiteSpace(v)).Select(v => v!.Trim()).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
}
