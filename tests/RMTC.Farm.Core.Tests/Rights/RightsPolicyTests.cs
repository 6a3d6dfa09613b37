using RMTC.Farm.Core.Datasets;
using RMTC.Farm.Core.Rights;

namespace RMTC.Farm.Core.Tests.Rights;

public sealed class RightsPolicyTests
{
    private static readonly string[] Discriminative = [CawgAssertions.AiTraining];
    private static readonly string[] Generative = [CawgAssertions.AiTraining, CawgAssertions.AiGenerativeTraining];

    private static RightsDecision Evaluate(Dataset dataset, string[] needed, params string[] accepted) =>
        RightsPolicy.Evaluate(dataset, needed, accepted);

    /// <summary>A rights section allowing both training assertions except <paramref name="label"/>, which gets <paramref name="value"/>.</summary>
    private static string BothAllowedBut(string label, string value) =>
        "rights: { " + string.Join(", ", Generative.Select(l => $"{l}: {(l == label ? value : "allowed")}")) + " }";

    [Fact]
    public void Data_that_allows_every_needed_assertion_is_allowed()
    {
        var dataset = TestDatasets.Create("rights: { cawg.ai_training: allowed, cawg.ai_generative_training: allowed }");
        var decision = Evaluate(dataset, Generative);
        Assert.True(decision.Allowed);
        Assert.Empty(decision.Message);
    }

    [Theory]
    [InlineData(CawgAssertions.AiTraining)]
    [InlineData(CawgAssertions.AiGenerativeTraining)]
    public void NotAllowed_refuses_naming_dataset_scope_and_assertion(string label)
    {
        var dataset = TestDatasets.Create(BothAllowedBut(label, "notAllowed"));
        var decision = Evaluate(dataset, Generative);
        var refusal = Assert.Single(decision.Refusals);
        Assert.Equal((null, label, "notAllowed"), (refusal.Asset, refusal.Label, refusal.Value?.Use));
        Assert.StartsWith($"dataset 'rights-test' ({dataset.Directory}) may not be used", decision.Message);
        Assert.Contains($"  - all assets: {label} is notAllowed: the owner does not permit this use", decision.Message);
    }

    [Theory]
    [InlineData(CawgAssertions.AiTraining)]
    [InlineData(CawgAssertions.AiGenerativeTraining)]
    public void Constrained_refuses_unless_the_job_accepts_that_exact_text(string label)
    {
        var dataset = TestDatasets.Create(BothAllowedBut(label, "{ use: constrained, constraint_info: \"internal R&D only\" }"));

        var refused = Evaluate(dataset, Generative, "internal R&D", "Internal R&D only");
        var refusal = Assert.Single(refused.Refusals);
        Assert.Equal(label, refusal.Label);
        Assert.Contains($"all assets: {label} is constrained (constraint_info \"internal R&D only\") and the job does not accept that constraint", refused.Message);
        Assert.Contains("accept_constraints", refused.Message);

        Assert.True(Evaluate(dataset, Generative, "something else", "internal R&D only").Allowed);
    }

    [Theory]
    [InlineData(CawgAssertions.AiTraining, "cawg.ai_generative_training: allowed")]
    [InlineData(CawgAssertions.AiGenerativeTraining, "cawg.ai_training: allowed")]
    public void A_missing_assertion_refuses_with_the_fix(string label, string declared)
    {
        var dataset = TestDatasets.Create($"rights: {{ {declared} }}");
        var decision = Evaluate(dataset, Generative);
        var refusal = Assert.Single(decision.Refusals);
        Assert.Null(refusal.Value);
        Assert.Contains(
            $"all assets: {label} is missing: the data must say it may be trained on; declare `{label}: allowed` in {Path.Combine(dataset.Directory, "dataset.yaml")} if the owner permits it",
            decision.Message);
    }

    [Fact]
    public void Only_generative_training_needs_the_generative_assertion()
    {
        var dataset = TestDatasets.Create("rights: { cawg.ai_training: allowed, cawg.ai_generative_training: notAllowed }");
        Assert.True(Evaluate(dataset, Discriminative).Allowed);
        Assert.False(Evaluate(dataset, Generative).Allowed);
        Assert.False(Evaluate(TestDatasets.Create("rights: { cawg.ai_training: allowed }"), Generative).Allowed);
    }

    [Fact]
    public void One_asset_refusing_refuses_the_job_and_is_named_with_its_digest()
    {
        var dataset = TestDatasets.Create(
            "rights: { cawg.ai_training: allowed, cawg.ai_generative_training: allowed }",
            "assets:\n  - { path: samples/000001.safetensors, rights: { c2pa.ai_training: notAllowed } }");
        var decision = Evaluate(dataset, Discriminative);
        var refusal = Assert.Single(decision.Refusals);
        var asset = dataset.Samples[1];
        Assert.Equal(asset, refusal.Asset);
        Assert.Contains($"  - asset samples/000001.safetensors (sha256 {asset.Sha256}): cawg.ai_training is notAllowed", decision.Message);
        Assert.DoesNotContain("all assets", decision.Message);
    }

    [Fact]
    public void Overrides_that_allow_lift_a_dataset_level_refusal_for_their_assets_only()
    {
        var overrides = "assets:\n  - { path: samples/000000.safetensors, rights: { cawg.ai_training: allowed } }";
        var partly = TestDatasets.Create("rights: { cawg.ai_training: notAllowed }", overrides, samples: 2);
        Assert.Contains("all assets but the 1 that override it: cawg.ai_training is notAllowed", Evaluate(partly, Discriminative).Message);

        var wholly = TestDatasets.Create(
            "rights: { cawg.ai_training: notAllowed }",
            overrides + "\n  - { path: samples/000001.safetensors, rights: { cawg.ai_training: allowed } }",
            samples: 2);
        Assert.True(Evaluate(wholly, Discriminative).Allowed);
    }

    [Fact]
    public void Many_refusals_are_listed_up_to_ten_then_counted()
    {
        var assets = "assets:\n" + string.Concat(Enumerable.Range(0, 14).Select(i => $"  - {{ path: samples/{i:D6}.safetensors, rights: {{ cawg.ai_training: notAllowed }} }}\n"));
        var dataset = TestDatasets.Create("rights: { cawg.ai_training: allowed }", assets, samples: 14);
        var decision = Evaluate(dataset, Discriminative);
        Assert.Equal(14, decision.Refusals.Count);
        Assert.Equal(10, decision.Message.Split('\n').Count(l => l.StartsWith("  - asset ", StringComparison.Ordinal)));
        Assert.EndsWith("  - and 4 more", decision.Message);
    }

    [Fact]
    public void Unknown_needed_assertions_are_a_programming_error() =>
        Assert.Throws<ArgumentException>(() => Evaluate(TestDatasets.Create("rights: {}"), ["cawg.scraping"]));
}
