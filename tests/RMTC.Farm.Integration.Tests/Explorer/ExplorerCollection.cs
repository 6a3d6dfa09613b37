namespace RMTC.Farm.Integration.Tests.Explorer;

/// <summary>The Explorer's API and browser tests share one farm and its completed run (a run takes most of their time).</summary>
[CollectionDefinition(Name)]
public sealed class ExplorerCollection : ICollectionFixture<ExplorerFarm>
{
    public const string Name = "explorer";
}
