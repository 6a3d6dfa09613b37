using RMTC.Farm.Coordinator.Storage;

namespace RMTC.Farm.Integration.Tests.Leadership;

/// <summary>A fence with a fixed token that records what the store reports refused.</summary>
internal sealed class TestFence(long token) : IStoreFence
{
    public long Token { get; set; } = token;

    public List<(long Newer, string What)> Refusals { get; } = [];

    public void Refused(long newer, string what)
    {
        lock (Refusals)
        {
            Refusals.Add((newer, what));
        }
    }
}
