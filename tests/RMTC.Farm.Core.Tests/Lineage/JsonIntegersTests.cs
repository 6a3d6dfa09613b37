using System.Text.Json;
using System.Text.Json.Nodes;
using RMTC.Farm.Core.Json;
using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Core.Tests.Lineage;

/// <summary>64-bit integers in manifests and served JSON: strings a JavaScript reader gets exactly, numbers still read.</summary>
public sealed class JsonIntegersTests
{
    // 2^53 + 1: the first integer a JavaScript number cannot hold (it reads 9007199254740992).
    private const long PastDoubles = 9_007_199_254_740_993;
    private const long InitSeed = 4_839_323_775_198_274_693;

    private static RunManifest Manifest() => new()
    {
        RunId = "seeded-0a1b2c",
        Name = "seeded",
        State = RunStates.Succeeded,
        Seeds = new SeedRecord { Run = PastDoubles, Init = InitSeed, ShardPlan = -InitSeed },
        Rounds =
        {
            new RoundRecord
            {
                Round = 1,
                InputDigest = "in",
                MeanLoss = 0.25,
                Shards = { new ShardRecord { Shard = 0, Samples = 4, Seed = long.MaxValue } },
                Attempts = { new AttemptRecord { Shard = 0, Attempt = 1, AgentId = "a", LeaseEpoch = PastDoubles, Samples = PastDoubles } },
            },
        },
    };

    [Fact]
    public void A_manifest_writes_every_64_bit_integer_as_a_string_of_its_digits_and_other_numbers_as_numbers()
    {
        var json = JsonNode.Parse(Manifest().ToJson())!;

        Assert.Equal("9007199254740993", json["seeds"]!["run"]!.GetValue<string>());
        Assert.Equal("4839323775198274693", json["seeds"]!["init"]!.GetValue<string>());
        Assert.Equal("-4839323775198274693", json["seeds"]!["shardPlan"]!.GetValue<string>());
        var round = json["rounds"]![0]!;
        Assert.Equal("9223372036854775807", round["shards"]![0]!["seed"]!.GetValue<string>());
        Assert.Equal("9007199254740993", round["attempts"]![0]!["leaseEpoch"]!.GetValue<string>());
        Assert.Equal("9007199254740993", round["attempts"]![0]!["samples"]!.GetValue<string>());
        // 32-bit integers and doubles are exact in JavaScript: they stay numbers.
        Assert.Equal(JsonValueKind.Number, round["round"]!.GetValueKind());
        Assert.Equal(JsonValueKind.Number, round["shards"]![0]!["samples"]!.GetValueKind());
        Assert.Equal(JsonValueKind.Number, round["meanLoss"]!.GetValueKind());
    }

    [Fact]
    public void A_manifest_reads_back_exactly_whether_its_64_bit_integers_are_strings_or_numbers()
    {
        var written = Manifest().ToJson();
        var back = RunManifest.FromJson(written);
        Assert.Equal(InitSeed, back.Seeds.Init);
        Assert.Equal(written, back.ToJson());

        // A manifest stored before this change holds numbers; it still loads, to the digit.
        var old = RunManifest.FromJson("""{"runId":"old-000000","seeds":{"run":9007199254740993,"init":4839323775198274693,"shardPlan":-1},"rounds":[{"round":1,"attempts":[{"leaseEpoch":7,"samples":null}]}]}""");
        Assert.Equal(PastDoubles, old.Seeds.Run);
        Assert.Equal(InitSeed, old.Seeds.Init);
        Assert.Equal(-1, old.Seeds.ShardPlan);
        Assert.Equal(7, old.Rounds[0].Attempts[0].LeaseEpoch);
        Assert.Null(old.Rounds[0].Attempts[0].Samples);
    }

    [Theory]
    [InlineData("\"12x\"", "\"12x\"")]
    [InlineData("1.5", "1.5")]
    [InlineData("\"99999999999999999999\"", "\"99999999999999999999\"")]
    [InlineData("true", "True")]
    public void A_64_bit_field_that_is_not_such_an_integer_is_refused_naming_what_was_expected_and_what_came(string value, string echoed)
    {
        var e = Assert.Throws<JsonException>(() => RunManifest.FromJson("{\"seeds\":{\"init\":" + value + "}}"));
        Assert.Contains("expected a 64-bit integer (a number, or its decimal digits as a string)", e.Message);
        Assert.Contains("got " + echoed, e.Message);
    }

    [Fact]
    public void Node_trees_get_their_clr_64_bit_values_written_as_strings_and_everything_else_as_it_was()
    {
        var node = new JsonObject
        {
            ["seed"] = InitSeed,
            ["epoch"] = (long?)PastDoubles,
            ["huge"] = ulong.MaxValue,
            ["round"] = 2,
            ["loss"] = 0.5,
            ["name"] = "O'Brien & co",
            ["parsed"] = JsonNode.Parse("[12, \"x\", null]"),
            ["nested"] = new JsonArray(new JsonObject { ["seed"] = -1L }),
        };

        Assert.Equal(
            """{"seed":"4839323775198274693","epoch":"9007199254740993","huge":"18446744073709551615","round":2,"loss":0.5,"name":"O\u0027Brien \u0026 co","parsed":[12,"x",null],"nested":[{"seed":"-1"}]}""",
            JsonIntegers.ToJsonString(node));
        // The options' indentation and encoder still apply.
        var relaxed = new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        var indented = JsonIntegers.ToJsonString(node, relaxed);
        Assert.Contains("\n  \"seed\": \"4839323775198274693\",\n", indented);
        Assert.Contains("\"name\": \"O'Brien & co\"", indented);
    }

    [Fact]
    public void A_manifest_sealed_when_its_integers_were_numbers_still_verifies_and_an_edit_to_it_is_still_caught()
    {
        var m = Manifest();
        // The manifest as this project wrote it before: the same options without the 64-bit converters.
        var numberOptions = new JsonSerializerOptions(RunManifest.JsonOptions);
        numberOptions.Converters.Clear();
        var numberForm = JsonNode.Parse(JsonSerializer.Serialize(m, numberOptions))!.AsObject();
        Assert.Equal(JsonValueKind.Number, numberForm["seeds"]!["init"]!.GetValueKind());
        var sealedDigest = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(LineageEvent.Canonical(numberForm))));

        var at = DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture);
        var submitted = LineageEvent.Next(null, at, "submitted", new JsonObject { ["by"] = "ann" });
        m.Seal = new ManifestSeal { SealedAt = at, ManifestDigest = sealedDigest, ChainHead = submitted.Hash, Events = 1 };
        var seal = LineageEvent.Next(submitted, at, "sealed", new JsonObject { ["manifestDigest"] = sealedDigest, ["chainHead"] = submitted.Hash });
        // Stored and loaded in the number form, as an old store holds it.
        var stored = RunManifest.FromJson(JsonSerializer.Serialize(m, numberOptions));

        Assert.NotEqual(sealedDigest, ManifestSeal.DigestOf(stored));
        Assert.Empty(ChainVerifier.VerifyRun(stored, [submitted, seal]));

        stored.Seeds.Init++;
        Assert.Contains(ChainVerifier.VerifyRun(stored, [submitted, seal]), p => p.Contains("the manifest was edited", StringComparison.Ordinal));
    }
}
