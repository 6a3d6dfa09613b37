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
    public void A_rounds_first_leases_form_a_relay_tree_and_a_holder_is_named_once_it_reported_past_fetching()
    {
        var peers = Directory();
        foreach (var id in new[] { "a", "b", "c", "d", "e", "f" })
        {
            Join(peers, id, $"http://{Host(id)}:7462", IPAddress.Parse(Host(id)));
        }

        // Nobody holds round 1's weights: the first lease fetches from the coordinator, the next three relay from it,
        // the fifth from the first of those (one hop further), never from itself.
        Assert.Equal("", peers.Name("a", "la", [W1, Model]));
        Assert.Equal("http://10.0.0.1:7462", peers.Name("b", "lb", [W1, Model]));
        Assert.Equal("http://10.0.0.1:7462", peers.Name("c", "lc", [W1, Model]));
        Assert.Equal("http://10.0.0.1:7462", peers.Name("d", "ld", [W1, Model]));
        Assert.Equal("http://10.0.0.2:7462", peers.Name("e", "le", [W1, Model]));
        Assert.Empty(peers.Holders(W1));

        peers.Reported("a", "la", "fetching");
        Assert.Empty(peers.Holders(W1));
        peers.Reported("a", "la", "training");
        Assert.Equal(["a"], peers.Holders(W1));
        Assert.Equal(["a"], peers.Holders(Model));

        // A holder is named before any relay; an agent that holds the weights is named nothing.
        Assert.Equal("http://10.0.0.1:7462", peers.Name("f", "lf", [W1]));
        Assert.Equal("", peers.Name("a", "la2", [W1]));
        // Another digest: nobody has it, the coordinator serves.
        Assert.Equal("", peers.Name("b", "lb3", [W2]));
        // The same lease sent again (a reconnect) names no peer.
        Assert.Equal("", peers.Name("c", "lc", [W1, Model]));
    }

    [Fact]
    public void A_relay_tree_of_many_leases_takes_one_fetch_from_the_coordinator_and_stays_shallow()
    {
        var peers = Directory();
        var named = new List<string>();
        for (var i = 0; i < 64; i++)
        {
            var id = $"n{i:D2}";
            Join(peers, id, $"http://10.1.0.{i + 1}:7462", IPAddress.Parse($"10.1.0.{i + 1}"));
            named.Add(peers.Name(id, "l-" + id, [W1]));
        }

        Assert.Single(named, n => n.Length == 0);
        // Nobody relays to more than its fan-out.
        Assert.All(named.Where(n => n.Length > 0).GroupBy(n => n), g => Assert.InRange(g.Count(), 1, PeerDirectory.RelayFanOut));
        // 1 + 3 + 9 + 27 + 81 > 64: four hops at most.
        var depth = new Dictionary<string, int> { ["http://10.1.0.1:7462"] = 0 };
        for (var i = 1; i < 64; i++)
        {
            depth[$"http://10.1.0.{i + 1}:7462"] = depth[named[i]] + 1;
        }

        Assert.InRange(depth.Values.Max(), 1, 4);
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

    private static string Host(string id) => $"10.0.0.{id[0] - 'a' + 1}";

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
