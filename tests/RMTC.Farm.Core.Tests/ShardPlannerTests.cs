using RMTC.Farm.Core.Planning;

namespace RMTC.Farm.Core.Tests;

public sealed class ShardPlannerTests
{
    [Fact]
    public void SplitMix64_MatchesTheReferenceSequence()
    {
        // Reference outputs of splitmix64.c (Vigna) seeded with 0.
        var rng = new SplitMix64(0);
        Assert.Equal(0xE220A8397B1DCDAFUL, rng.NextUInt64());
        Assert.Equal(0x6E789E6AA1B965F4UL, rng.NextUInt64());
        Assert.Equal(0x06C45D188009454FUL, rng.NextUInt64());
    }

    [Fact]
    public void Plan_IsPinned_ForAFixedSeed()
    {
        // Guards stability across machines and .NET versions: this plan must never change (cross-checked with an independent Python SplitMix64).
        var plan = ShardPlanner.Plan(10, 3, 42);
        Assert.Equal(PinnedPlan, plan.Select(p => string.Join(",", p)));
    }

    private static readonly string[] PinnedPlan = ["0,5,8,9", "4,6,7", "1,2,3"];

    [Fact]
    public void SameInputs_SamePlan_DifferentSeed_DifferentPlan()
    {
        var a = ShardPlanner.Plan(1000, 7, 123);
        var b = ShardPlanner.Plan(1000, 7, 123);
        var c = ShardPlanner.Plan(1000, 7, 124);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        var d = ShardPlanner.Plan(1000, 7, -5);
        Assert.Equal(d, ShardPlanner.Plan(1000, 7, -5));
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(5, 5)]
    [InlineData(10, 3)]
    [InlineData(101, 10)]
    [InlineData(1000, 7)]
    [InlineData(12345, 64)]
    public void Plan_IsBalanced_Sorted_AndCoversEverySampleOnce(int samples, int shards)
    {
        var plan = ShardPlanner.Plan(samples, shards, 99);
        Assert.Equal(shards, plan.Length);
        int min = plan.Min(p => p.Length), max = plan.Max(p => p.Length);
        Assert.True(max - min <= 1, $"sizes {min}..{max}");
        Assert.True(min >= 1);

        var seen = new bool[samples];
        foreach (var part in plan)
        {
            for (int i = 0; i < part.Length; i++)
            {
                if (i > 0)
                {
                    Assert.True(part[i - 1] < part[i], "each shard is sorted ascending");
                }

                Assert.InRange(part[i], 0, samples - 1);
                Assert.False(seen[part[i]], $"sample {part[i]} appears twice");
                seen[part[i]] = true;
            }
        }

        Assert.All(seen, Assert.True);
    }

    [Fact]
    public void Plan_Shuffles()
    {
        // With 2 shards of 1000 samples a non-shuffled split would be 0..499 / 500..999.
        var plan = ShardPlanner.Plan(1000, 2, 1);
        Assert.NotEqual(Enumerable.Range(0, 500), plan[0]);
        Assert.InRange(plan[0].Count(i => i < 500), 200, 300);
    }

    [Fact]
    public void Plan_RefusesBadArguments()
    {
        var e = Assert.Throws<ArgumentException>(() => ShardPlanner.Plan(5, 8, 0));
        Assert.Contains("cannot split 5 samples into 8 shards: use at most 5 shards", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => ShardPlanner.Plan(5, 0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => ShardPlanner.Plan(-1, 1, 0));
        var empty = Assert.Throws<ArgumentException>(() => ShardPlanner.Plan(0, 1, 0));
        Assert.Contains("0 samples", empty.Message);
    }
}
