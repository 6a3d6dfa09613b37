using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using RMTC.Farm.Coordinator.DataPlane;

namespace RMTC.Farm.Integration.Tests.PeerFetch;

/// <summary>How the coordinator chooses the peer it names in an assignment (<see cref="PeerDirectory"/>).</summary>
public sealed class PeerDirectoryTests
{
    private static readonly string W1 = new('1', 64);
    private static readonly string W2 = new('2', 64);
    private static readonly string Model = new('d', 64);
    private static readonly IPAddress Farm = IPAddress.Parse("10.20.0.7");

    [Fact]
    public void A_peer_is_named_only_once_it_reported_a_lease_of_that_digest_past_fetching()
    {
        var peers = Directory();
        Join(peers, "a", "http://10.20.0.7:7462", Farm);
        Join(peers, "b", "http://10.20.0.8:7462", IPAddress.Parse("10.20.0.8"));

        // Both fetch round 1 at once: no one holds it yet.
        Assert.Equal("", peers.Name("a", "la", [W1, Model]));
        Assert.Equal("", peers.Name("b", "lb", [W1, Model]));
        peers.Reported("a", "la", "fetching");
        Assert.Empty(peers.Holders(W1));

        peers.Reported("a", "la", "training");
        Assert.Equal(["a"], peers.Holders(W1));
        Assert.Equal(["a"], peers.Holders(Model));

        // A later lease of the same round (a retry, a second wave) goes to a; a itself is never named to itself.
        Assert.Equal("http://10.20.0.7:7462", peers.Name("b", "lb2", [W1]));
        Assert.Equal("", peers.Name("a", "la2", [W1]));
        Assert.Equal("", peers.Name("b", "lb3", [W2]));
    }

    [Fact]
    public void A_round_fan_out_spreads_over_the_holders()
    {
        var peers = Directory();
        foreach (var id in new[] { "h1", "h2", "h3" })
        {
            Join(peers, id, $"http://10.0.0.{id[1]}:7462", IPAddress.Parse($"10.0.0.{id[1]}"));
            peers.Name(id, "l-" + id, [W1]);
            peers.Reported(id, "l-" + id, "training");
        }

        var named = new List<string>();
        for (var i = 0; i < 9; i++)
        {
            var id = $"n{i}";
            Join(peers, id, "", IPAddress.Parse($"10.0.1.{i + 1}"));
            named.Add(peers.Name(id, "l-" + id, [W1]));
        }

        Assert.All(named.GroupBy(n => n), g => Assert.Equal(3, g.Count()));
        Assert.Equal(3, named.Distinct().Count());
    }

    [Fact]
    public void Agents_out_of_session_serving_nothing_or_on_another_hosts_loopback_are_not_named()
    {
        var peers = Directory();
        Join(peers, "local", "http://127.0.0.1:7462", IPAddress.Loopback);
        Hold(peers, "local", W1);

        // Another host cannot reach 127.0.0.1 of this one; an agent on the same host can.
        Join(peers, "remote", "", Farm);
        Assert.Equal("", peers.Name("remote", "l1", [W1]));
        Join(peers, "neighbour", "", IPAddress.Loopback);
        Assert.Equal("http://127.0.0.1:7462", peers.Name("neighbour", "l2", [W1]));

        peers.Online("local", false);
        Assert.Equal("", peers.Name("neighbour", "l3", [W1]));
        peers.Online("local", true);

        // Re-registered without a peer data plane (Agent:PeerDataPlane:Port -1): holding is not serving.
        peers.Register("local", "", IPAddress.Loopback);
        Assert.Equal("", peers.Name("neighbour", "l4", [W1]));
    }

    [Fact]
    public void A_wildcard_address_takes_the_registrations_source_and_a_bad_one_is_ignored()
    {
        var peers = Directory();
        Assert.Equal("http://10.20.0.7:41235", peers.Register("a", "http://0.0.0.0:41235", Farm));
        Assert.Equal("http://10.20.0.7:41235", peers.Register("a", "http://0.0.0.0:41235", Farm.MapToIPv6()));
        Assert.Equal("http://[fd00::7]:41235", peers.Register("a", "http://[::]:41235", IPAddress.Parse("fd00::7")));
        Assert.Equal("http://node7.farm:41235", peers.Register("a", "http://node7.farm:41235", Farm));
        Assert.Null(peers.Register("a", "ftp://node7:21", Farm));
        Assert.Null(peers.Register("a", "not an address", Farm));
        Assert.Null(peers.Register("a", "", Farm));
    }

    [Fact]
    public void A_reconnecting_agent_stays_named_while_its_old_session_ends()
    {
        var peers = Directory();
        Join(peers, "a", "http://10.20.0.7:7462", Farm);
        Hold(peers, "a", W1);
        peers.Online("a", true);
        peers.Online("a", false);
        Join(peers, "b", "", IPAddress.Parse("10.20.0.8"));
        Assert.Equal("http://10.20.0.7:7462", peers.Name("b", "l", [W1]));
    }

    [Fact]
    public void Each_agent_is_remembered_for_its_most_recent_digests_only_and_naming_can_be_turned_off()
    {
        var peers = Directory();
        Join(peers, "a", "http://10.20.0.7:7462", Farm);
        for (var i = 0; i <= PeerDirectory.DigestsPerAgent; i++)
        {
            Hold(peers, "a", i.ToString("x64", System.Globalization.CultureInfo.InvariantCulture));
        }

        Assert.Empty(peers.Holders(0.ToString("x64", System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(["a"], peers.Holders(PeerDirectory.DigestsPerAgent.ToString("x64", System.Globalization.CultureInfo.InvariantCulture)));

        var off = Directory(namePeers: false);
        Join(off, "a", "http://10.20.0.7:7462", Farm);
        Hold(off, "a", W1);
        Join(off, "b", "", IPAddress.Parse("10.20.0.8"));
        Assert.Equal("", off.Name("b", "l", [W1]));
    }

    private static PeerDirectory Directory(bool namePeers = true) =>
        new(Options.Create(new DataPlaneOptions { NamePeers = namePeers }), NullLogger<PeerDirectory>.Instance);

    private static void Join(PeerDirectory peers, string id, string advertised, IPAddress from)
    {
        peers.Register(id, advertised, from);
        peers.Online(id, true);
    }

    private static void Hold(PeerDirectory peers, string id, string digest)
    {
        var lease = $"{id}-{digest}";
        peers.Name(id, lease, [digest]);
        peers.Reported(id, lease, "training");
    }
}
