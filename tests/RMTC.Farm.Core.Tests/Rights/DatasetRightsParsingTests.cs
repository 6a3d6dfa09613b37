using RMTC.Farm.Core.Datasets;
using RMTC.Farm.Core.Rights;

namespace RMTC.Farm.Core.Tests.Rights;

public sealed class DatasetRightsParsingTests
{
    private static DatasetDescriptor Parse(string rights, string assets = "") =>
        Dataset.ParseDescriptor(TestDatasets.Yaml(rights, assets), "dataset.yaml");

    private static string Refused(string rights, string assets = "") =>
        Assert.Throws<DatasetException>(() => Parse(rights, assets)).Message;

    [Fact]
    public void Scalar_and_mapping_forms_read_to_canonical_values()
    {
        var d = Parse("""
            rights:
              cawg.ai_training: Allowed
              cawg.ai_generative_training: NOTALLOWED
              cawg.data_mining: { use: CONSTRAINED, constraint_info: "  internal R&D only " }
              cawg.ai_inference: { use: allowed }
            """);
        Assert.Equal(RightsAssertion.Allowed, d.Rights[CawgAssertions.AiTraining]);
        Assert.Equal(RightsAssertion.NotAllowed, d.Rights[CawgAssertions.AiGenerativeTraining]);
        Assert.Equal(RightsAssertion.Constrained("internal R&D only"), d.Rights[CawgAssertions.DataMining]);
        Assert.Equal("allowed", d.Rights[CawgAssertions.AiInference].Use);
    }

    [Fact]
    public void Legacy_c2pa_labels_read_as_cawg()
    {
        var d = Parse("""
            rights:
              c2pa.ai_training: allowed
              c2pa.ai_generative_training: notAllowed
              c2pa.data_mining: allowed
              c2pa.ai_inference: { use: constrained, constraint_info: "no faces" }
            """);
        Assert.Equal(CawgAssertions.All.Order(StringComparer.Ordinal), d.Rights.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("notAllowed", d.Rights[CawgAssertions.AiGenerativeTraining].Use);
        Assert.Equal("no faces", d.Rights[CawgAssertions.AiInference].ConstraintInfo);
    }

    [Fact]
    public void Both_spellings_of_one_label_may_agree_but_not_disagree()
    {
        var d = Parse("rights: { c2pa.ai_training: allowed, cawg.ai_training: ALLOWED }");
        Assert.Single(d.Rights);

        var message = Refused("rights: { c2pa.ai_training: allowed, cawg.ai_training: notAllowed }");
        Assert.Contains("`c2pa.ai_training` (allowed) and `cawg.ai_training` (notAllowed) are the same assertion and disagree", message);
    }

    [Fact]
    public void Unknown_labels_are_named()
    {
        var message = Refused("rights: { cawg.ai_training: allowed, cawg.ai_trainng: allowed, c2pa.scraping: notAllowed }");
        Assert.Contains("unknown labels `cawg.ai_trainng`, `c2pa.scraping`", message);
        Assert.Contains("known: cawg.ai_training, cawg.ai_generative_training, cawg.data_mining, cawg.ai_inference", message);
    }

    [Theory]
    [InlineData("rights: { cawg.ai_training: constrained }")]
    [InlineData("rights: { cawg.ai_training: { use: constrained } }")]
    [InlineData("rights: { cawg.ai_training: { use: constrained, constraint_info: \" \" } }")]
    public void Constrained_needs_constraint_info(string rights)
    {
        var message = Refused(rights);
        Assert.Contains("`rights.cawg.ai_training` is constrained but has no constraint_info", message);
        Assert.Contains("{ use: constrained, constraint_info:", message);
        Assert.StartsWith("dataset.yaml line ", message);
    }

    [Theory]
    [InlineData("rights: { cawg.ai_training: maybe }", "`rights.cawg.ai_training` has value 'maybe'; use one of: allowed, notAllowed, constrained")]
    [InlineData("rights: { cawg.ai_training: { use: allowed, constraint_info: x } }", "constraint_info belongs with `use: constrained`")]
    [InlineData("rights: { cawg.ai_training: { use: allowed, note: x } }", "unknown key `note`")]
    [InlineData("rights: [a, b]", "`rights` must be a mapping")]
    public void Bad_values_name_the_label_and_the_fix(string rights, string expected) =>
        Assert.Contains(expected, Refused(rights));

    [Fact]
    public void Asset_overrides_read_by_path_or_digest()
    {
        var digest = new string('a', 64);
        var d = Parse("rights: { cawg.ai_training: allowed }", $$"""
            assets:
              - path: ./samples/000001.safetensors
                licence: LicenseRef-studio-internal
                rights: { cawg.ai_training: notAllowed }
              - sha256: "sha256:{{digest.ToUpperInvariant()}}"
                owner: Studio B
                rights: { c2pa.ai_generative_training: { use: constrained, constraint_info: "no likeness" } }
            """);
        Assert.Equal(2, d.Assets.Count);
        Assert.Equal("samples/000001.safetensors", d.Assets[0].Path);
        Assert.Equal("LicenseRef-studio-internal", d.Assets[0].Licence);
        Assert.Null(d.Assets[0].Owner);
        Assert.Equal(digest, d.Assets[1].Sha256);
        Assert.Equal(RightsAssertion.Constrained("no likeness"), d.Assets[1].Rights[CawgAssertions.AiGenerativeTraining]);
    }

    [Theory]
    [InlineData("assets:\n  - rights: { cawg.ai_training: allowed }", "exactly one of `path`")]
    [InlineData("assets:\n  - { path: samples/000000.safetensors, sha256: abc }", "exactly one of `path`")]
    [InlineData("assets:\n  - { sha256: abc }", "must be 64 hex digits")]
    [InlineData("assets:\n  - { path: samples/000000.safetensors, note: x }", "`assets[0]`: unknown key `note`")]
    [InlineData("assets:\n  - { path: samples/000000.safetensors, rights: { cawg.ai_training: constrained } }", "`assets[0].rights.cawg.ai_training` is constrained but has no constraint_info")]
    public void Bad_asset_overrides_are_refused(string assets, string expected) =>
        Assert.Contains(expected, Refused("rights: {}", assets));

    [Fact]
    public void Overrides_match_assets_by_path_and_by_digest()
    {
        var digestOfFirst = TestDatasets.Create("rights: {}", samples: 4, distinct: 2).Samples[0].Sha256;
        var dataset = TestDatasets.Create("rights: { cawg.ai_training: allowed, cawg.data_mining: allowed }", $$"""
            assets:
              - path: samples/000001.safetensors
                rights: { cawg.ai_training: notAllowed }
              - sha256: {{digestOfFirst}}
                licence: CC0-1.0
                rights: { cawg.data_mining: notAllowed }
            """, samples: 4, distinct: 2);

        // Samples 0 and 2 share content (label 0), so the digest override applies to both.
        var rights = dataset.Samples.Select(a => (a.RelativePath, dataset.RightsOf(a)[CawgAssertions.AiTraining].Use, dataset.RightsOf(a)[CawgAssertions.DataMining].Use)).ToList();
        Assert.Equal(
            [
                ("samples/000000.safetensors", "allowed", "notAllowed"),
                ("samples/000001.safetensors", "notAllowed", "allowed"),
                ("samples/000002.safetensors", "allowed", "notAllowed"),
                ("samples/000003.safetensors", "allowed", "allowed"),
            ],
            rights);
        Assert.Equal("CC0-1.0", dataset.OverrideOf(dataset.Samples[2])!.Licence);
        Assert.Null(dataset.OverrideOf(dataset.Samples[3]));
    }

    [Fact]
    public void An_override_of_a_missing_asset_is_refused_by_name()
    {
        var byPath = TestDatasets.Write(TestDatasets.Yaml("rights: {}", "assets:\n  - { path: samples/000099.safetensors }"));
        var message = Assert.Throws<DatasetException>(() => Dataset.Open(byPath)).Message;
        Assert.Contains("assets[0]: no asset at path samples/000099.safetensors", message);

        var digest = new string('0', 64);
        var byDigest = TestDatasets.Write(TestDatasets.Yaml("rights: {}", $"assets:\n  - {{ sha256: {digest} }}"));
        Assert.Contains($"assets[0]: no asset in {byDigest} has sha256 {digest}", Assert.Throws<DatasetException>(() => Dataset.Open(byDigest)).Message);
    }

    [Fact]
    public void Two_overrides_of_one_asset_are_refused()
    {
        var digest = TestDatasets.Create("rights: {}").Samples[1].Sha256;
        var dir = TestDatasets.Write(TestDatasets.Yaml("rights: {}", $"assets:\n  - {{ path: samples/000001.safetensors }}\n  - {{ sha256: {digest} }}"));
        Assert.Contains("both apply to samples/000001.safetensors", Assert.Throws<DatasetException>(() => Dataset.Open(dir)).Message);
    }

    [Fact]
    public void Written_descriptors_read_back_the_same_rights_and_overrides()
    {
        var d = Parse("rights: { cawg.ai_training: allowed, cawg.data_mining: { use: constrained, constraint_info: \"say \\\"hi\\\"\" } }", """
            assets:
              - path: samples/000001.safetensors
                consent: withdrawn 2025-03
                rights: { cawg.ai_training: notAllowed }
            """);
        var dir = TestFiles.TempDir();
        Dataset.WriteDescriptor(dir, d);
        var back = Dataset.ReadDescriptor(dir);
        Assert.Equal(d.Rights, back.Rights);
        Assert.Equal("say \"hi\"", back.Rights[CawgAssertions.DataMining].ConstraintInfo);
        var o = Assert.Single(back.Assets);
        Assert.Equal(("samples/000001.safetensors", "withdrawn 2025-03", RightsAssertion.NotAllowed), (o.Path, o.Consent, o.Rights[CawgAssertions.AiTraining]));
    }
}
