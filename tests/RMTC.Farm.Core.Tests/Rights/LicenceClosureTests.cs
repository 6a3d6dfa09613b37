using System.Text.Json;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Core.Rights;

namespace RMTC.Farm.Core.Tests.Rights;

public sealed class LicenceClosureTests
{
    private static RightsSource Source(string id, string licence, params (string Label, RightsAssertion Value)[] rights) =>
        new(id, licence, "owner of " + id, "", rights.ToDictionary(r => r.Label, r => r.Value));

    [Fact]
    public void The_most_restrictive_value_wins_and_constraints_accumulate()
    {
        var closure = LicenceClosure.Of(
        [
            Source("a", "CC-BY-4.0",
                (CawgAssertions.AiTraining, RightsAssertion.Allowed),
                (CawgAssertions.AiGenerativeTraining, RightsAssertion.Constrained("no likeness")),
                (CawgAssertions.DataMining, RightsAssertion.Allowed)),
            Source("b", "LicenseRef-studio",
                (CawgAssertions.AiTraining, RightsAssertion.Constrained("internal only")),
                (CawgAssertions.AiGenerativeTraining, RightsAssertion.NotAllowed),
                (CawgAssertions.AiInference, RightsAssertion.Allowed)),
            Source("c", "CC-BY-4.0",
                (CawgAssertions.AiTraining, RightsAssertion.Allowed),
                (CawgAssertions.AiGenerativeTraining, RightsAssertion.Constrained("credit artists")),
                (CawgAssertions.DataMining, RightsAssertion.Constrained("x"))),
        ]);

        Assert.Equal(["CC-BY-4.0", "LicenseRef-studio"], closure.Licences);
        Assert.Equal(["owner of a", "owner of b", "owner of c"], closure.Owners);
        Assert.Equal(["a", "b", "c"], closure.Sources);
        Assert.Equal(("constrained", "internal only"), Of(closure, CawgAssertions.AiTraining));
        Assert.Equal(("notAllowed", "credit artists|no likeness"), Of(closure, CawgAssertions.AiGenerativeTraining));
        // c constrains data mining, b says nothing about it: silence outranks a constraint.
        Assert.Equal(("unspecified", "x"), Of(closure, CawgAssertions.DataMining));
        Assert.Equal(("unspecified", ""), Of(closure, CawgAssertions.AiInference));
    }

    [Fact]
    public void Ranks_run_allowed_constrained_unspecified_notAllowed()
    {
        string[] ordered = ["allowed", "constrained", RightsStrictness.Unspecified, "notAllowed"];
        Assert.Equal(ordered, ordered.OrderBy(RightsStrictness.Rank));
        foreach (var a in ordered)
        {
            foreach (var b in ordered)
            {
                Assert.Equal(ordered[Math.Max(Array.IndexOf(ordered, a), Array.IndexOf(ordered, b))], RightsStrictness.MostRestrictive(a, b));
            }
        }
    }

    [Fact]
    public void Merge_equals_the_closure_of_all_sources_in_any_order()
    {
        var a = Source("a", "MIT", (CawgAssertions.AiTraining, RightsAssertion.Allowed), (CawgAssertions.AiInference, RightsAssertion.Allowed));
        var b = Source("b", "", (CawgAssertions.AiTraining, RightsAssertion.Constrained("t")), (CawgAssertions.AiInference, RightsAssertion.Allowed));
        var c = Source("c", "MIT", (CawgAssertions.AiTraining, RightsAssertion.NotAllowed));

        var whole = Json(LicenceClosure.Of([a, b, c]));
        Assert.Equal(whole, Json(LicenceClosure.Merge(LicenceClosure.Of([a]), LicenceClosure.Of([b, c]))));
        Assert.Equal(whole, Json(LicenceClosure.Merge(LicenceClosure.Of([c, b]), LicenceClosure.Of([a]))));
        Assert.Equal(whole, Json(LicenceClosure.Merge(LicenceClosure.Merge(LicenceClosure.Of([b])), LicenceClosure.Of([a, c]))));

        var merged = LicenceClosure.Merge(LicenceClosure.Of([a]), LicenceClosure.Of([b]));
        Assert.Equal(["MIT", LicenceClosure.NoAssertion], merged.Licences);
        Assert.Equal(("constrained", "t"), Of(merged, CawgAssertions.AiTraining));
        Assert.Equal(("allowed", ""), Of(merged, CawgAssertions.AiInference));
        Assert.Equal(("unspecified", ""), Of(LicenceClosure.Merge(), CawgAssertions.AiInference));
    }

    [Fact]
    public void A_dataset_closure_covers_its_overrides_and_round_trips_through_the_manifest()
    {
        var dataset = TestDatasets.Create(
            "rights: { cawg.ai_training: allowed, cawg.ai_generative_training: allowed }",
            """
            assets:
              - path: samples/000002.safetensors
                licence: LicenseRef-studio-internal
                owner: Studio B
                rights: { cawg.ai_generative_training: { use: constrained, constraint_info: "no likeness" } }
            """);
        var closure = LicenceClosure.Of(RightsSource.FromDataset(dataset));
        Assert.Equal(["CC-BY-4.0", "LicenseRef-studio-internal"], closure.Licences);
        Assert.Equal(["Studio A", "Studio B"], closure.Owners);
        Assert.Equal(
            [
                $"dataset:rights-test@2 sha256:{dataset.Digest}",
                $"dataset:rights-test@2 sha256:{dataset.Digest} asset samples/000002.safetensors sha256:{dataset.Samples[2].Sha256}",
            ],
            closure.Sources);
        Assert.Equal(("allowed", ""), Of(closure, CawgAssertions.AiTraining));
        Assert.Equal(("constrained", "no likeness"), Of(closure, CawgAssertions.AiGenerativeTraining));

        var manifest = new RunManifest
        {
            LicenceClosure = closure,
            Dataset = new DatasetRecord { Rights = new(dataset.Descriptor.Assets[0].Rights) { [CawgAssertions.AiTraining] = RightsAssertion.Allowed } },
        };
        var json = manifest.ToJson();
        Assert.Contains("\"licenceClosure\"", json);
        Assert.Contains("\"constraintInfo\": [", json);
        Assert.Contains("\"cawg.ai_training\": \"allowed\"", json);
        Assert.Contains("\"use\": \"constrained\"", json);
        var back = RunManifest.FromJson(json);
        Assert.Equal(json, back.ToJson());
        Assert.Equal(RightsAssertion.Constrained("no likeness"), back.Dataset.Rights[CawgAssertions.AiGenerativeTraining]);
    }

    [Fact]
    public void Manifests_written_before_closures_keep_their_bytes()
    {
        var old = """{"schema":"rmtc.run/v1","dataset":{"rights":{"cawg.ai_training":"allowed","cawg.data_mining":"constrained"}},"spec":{"name":"a","recipe":"denoiser","dataset":"/d"}}""";
        var manifest = RunManifest.FromJson(old);
        Assert.Null(manifest.LicenceClosure);
        Assert.Null(manifest.Spec!.Rights);
        var json = manifest.ToJson();
        Assert.Contains("\"cawg.data_mining\": \"constrained\"", json);
        Assert.DoesNotContain("licenceClosure", json);
        Assert.DoesNotContain("acceptConstraints", json);
    }

    /// <summary>The label's value and its constraint texts joined with '|', so tuples compare by value.</summary>
    [Fact]
    public void A_model_files_licence_and_origin_join_the_closure_and_leave_the_datas_rights_as_they_are()
    {
        var data = Source("dataset:patterns@1", "CC-BY-4.0", (CawgAssertions.AiTraining, RightsAssertion.Allowed), (CawgAssertions.AiInference, RightsAssertion.Allowed));
        var model = RightsSource.FromModelFile("/farm/models/resnet.pt", new string('a', 64), "LicenseRef-vendor", "fine-tuned from weights X under licence Y");

        var closure = LicenceClosure.Of([data, model]);

        Assert.Equal(["CC-BY-4.0", "LicenseRef-vendor"], closure.Licences);
        Assert.Equal(["dataset:patterns@1", $"model:resnet.pt sha256:{new string('a', 64)} (fine-tuned from weights X under licence Y)"], closure.Sources);
        Assert.Equal(["owner of dataset:patterns@1"], closure.Owners);
        // The file says nothing about how data may be used: the data's answers stand.
        Assert.Equal(("allowed", ""), Of(closure, CawgAssertions.AiTraining));
        Assert.Equal(("allowed", ""), Of(closure, CawgAssertions.AiInference));
        Assert.Equal(LicenceClosure.Of([data]).Rights.Keys, closure.Rights.Keys);
    }

    private static (string Use, string Info) Of(LicenceClosure closure, string label) =>
        (closure.Rights[label].Use, string.Join("|", closure.Rights[label].ConstraintInfo));

    private static string Json(LicenceClosure closure) => JsonSerializer.Serialize(closure, RunManifest.JsonOptions);
}
