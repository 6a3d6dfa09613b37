using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using RMTC.Farm.Agent.Hosting;
using RMTC.Farm.Protos.Client;

namespace RMTC.Farm.Integration.Tests.Leadership;

/// <summary>How clients read a list of coordinators: comma-separated, or a list in the agent's configuration file.</summary>
public sealed class CoordinatorAddressesTests
{
    [Fact]
    public void A_comma_separated_list_is_read_in_order_with_http_assumed_and_duplicates_dropped()
    {
        Assert.Equal(["http://10.0.0.5:7460", "https://b.farm:7460", "http://c:1"],
            CoordinatorAddresses.Parse(" 10.0.0.5:7460, https://b.farm:7460/ ,http://c:1,http://10.0.0.5:7460", "--coordinator"));
        Assert.Equal(["http://127.0.0.1:7460"], CoordinatorAddresses.Parse("http://127.0.0.1:7460", "Agent:Coordinator"));
    }

    [Theory]
    [InlineData("")]
    [InlineData(" , ")]
    [InlineData("ftp://a:1")]
    [InlineData("http://a:1,http://:2")]
    public void A_list_that_names_no_coordinator_or_a_bad_one_is_refused_naming_the_setting(string text)
    {
        var error = Assert.Throws<FormatException>(() => CoordinatorAddresses.Parse(text, "Agent:Coordinator"));
        Assert.StartsWith("Agent:Coordinator", error.Message, StringComparison.Ordinal);
        Assert.Contains("http://10.0.0.5:7460", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_agent_takes_a_list_in_its_configuration_file_as_well_as_a_comma_separated_one()
    {
        Assert.Equal("http://a:7460,http://b:7460", AgentCoordinator(new() { ["Agent:Coordinator:0"] = "http://a:7460", ["Agent:Coordinator:1"] = "http://b:7460" }));
        Assert.Equal("http://a:7460, b:7460", AgentCoordinator(new() { ["Agent:Coordinator"] = "http://a:7460, b:7460" }));
        var error = Assert.Throws<OptionsValidationException>(() => AgentCoordinator(new() { ["Agent:Coordinator"] = "http://a:7460,ftp://b" }));
        Assert.Contains("Agent:Coordinator must be an address", error.Message, StringComparison.Ordinal);
    }

    private static string AgentCoordinator(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        using var services = new ServiceCollection().AddLogging().AddRmtcAgent(configuration).BuildServiceProvider();
        return services.GetRequiredService<IOptions<AgentOptions>>().Value.Coordinator;
    }
}
