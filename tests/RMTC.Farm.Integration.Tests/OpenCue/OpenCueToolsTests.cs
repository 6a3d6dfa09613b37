using RMTC.Farm.Coordinator.Hosting;

namespace RMTC.Farm.Integration.Tests.OpenCue;

/// <summary>
/// What cueadmin, cueman and CueGUI's monitors read, asked as pycue asks (grpcio, OpenCue's method paths and
/// messages), of a real coordinator with real agents training: layers and frames, shows, hosts (agents) and procs
/// (running attempts), and the answer to every call the farm does not serve.
/// </summary>
public sealed class OpenCueToolsTests
{
    private const string JobName = "rnd-denoise-alice_train_denoiser";

    [Fact]
    public async Task Wranglers_tools_see_the_layer_frames_shows_agents_as_hosts_and_running_attempts_as_procs()
    {
        await using var farm = await FarmFixture.StartAsync();
        var data = farm.Synthesize("denoiser", 96);
        var spec = Path.Combine(farm.Root, "train.xml");
        await File.WriteAllTextAsync(spec, OpenCueEndpointTests.Spec(data, paused: true));
        var address = $"{farm.App.OpenCueAddress()!.Host}:{farm.App.OpenCueAddress()!.Port}";

        // Launched paused, no agent yet: the show is active, its frames wait, the farm has no hosts.
        var launch = await CallsAsync(address, $"launch={spec}", $"find={JobName}", "hosts", "procs", "jobnames");
        Assert.Equal($"launch ok {JobName}", launch[0]);
        var id = launch[1]["find ok ".Length..];
        Assert.Equal(["hosts ok", "procs ok", $"jobnames ok {JobName}"], launch[2..]);

        var layer = $"{id}/train";
        var before = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var waiting = await CallsAsync(address,
            $"layers={id}", $"layerframes={layer}", $"findlayer={JobName}/train", $"getlayer={layer}", $"findframe={JobName}/train/2",
            $"getframe={id}/3", $"updated={id}@0", "shows", "activeshows", "findshow=rnd",
            $"findlayer={JobName}/comp", $"findframe={JobName}/train/9", $"getframe={id}/x", "findshow=nothing",
            $"updated={id}@0@{layer}", $"updated={id}@0@{id}/comp", "whiteboard=rnd", "whiteboard=nothing");
        Assert.Equal($"layers ok {layer}", waiting[0]);
        Assert.Equal("layerframes ok 0001-train:WAITING:0:,0002-train:WAITING:0:,0003-train:WAITING:0:", waiting[1]);
        Assert.Equal($"findlayer ok {layer} train 1-3", waiting[2]);
        Assert.Equal($"getlayer ok {layer} train 1-3", waiting[3]);
        Assert.Equal("findframe ok 0002-train:WAITING:0:", waiting[4]);
        Assert.Equal("getframe ok 0003-train:WAITING:0:", waiting[5]);
        Assert.Matches($@"^updated ok PENDING \d+ {id}/1:WAITING,{id}/2:WAITING,{id}/3:WAITING$", waiting[6]);
        Assert.Equal(["shows ok rnd:1:1:1:3", "activeshows ok rnd:1:1:1:3", "findshow ok rnd:1:1:1:3"], waiting[7..10]);
        Assert.Equal($"findlayer NOT_FOUND Failed to find layer data: job '{JobName}' has one layer, 'train', not 'comp'", waiting[10]);
        Assert.Equal($"findframe NOT_FOUND Failed to find frame data: job '{JobName}' has no frame 9 (its range is 1-3)", waiting[11]);
        Assert.StartsWith("getframe NOT_FOUND Failed to find frame data: no frame with id", waiting[12]);
        Assert.StartsWith("findshow NOT_FOUND Failed to find show data: no job of this farm is in show 'nothing'", waiting[13]);
        // CueGUI's layer filter: the job's layer keeps its frames, another layer has none.
        Assert.Matches($@"^updated ok PENDING \d+ {id}/1:WAITING,{id}/2:WAITING,{id}/3:WAITING$", waiting[14]);
        Assert.Matches(@"^updated ok PENDING \d+$", waiting[15]);
        // CueGUI's Monitor Cue: the show is one group holding its unfinished job (by id and inline) and its 3 waiting frames.
        Assert.Equal($"whiteboard ok rnd:0:{id}:{JobName}:3:1", waiting[16]);
        Assert.Equal("whiteboard ok nothing:0:::0:0", waiting[17]);

        // Two agents: two hosts, up and open; an unknown host is named in the answer.
        await farm.StartAgentsAsync(2);
        var hosts = await CallsAsync(address, "hosts", "findhost=agent-2", "findhost=render-07", "allocs",
            "allocfind=rmtc.agents", "allochosts=rmtc.agents", "allocfind=local.general", "subscriptions=rnd", "subscriptions=nothing", "defaultservices", "raw=/limit.LimitInterface/GetAll");
        var listed = hosts[0]["hosts ok ".Length..].Split(',');
        Assert.Equal(["agent-1", "agent-2"], listed.Select(h => h.Split(':')[0]));
        Assert.All(listed, h => Assert.StartsWith("UP:OPEN:", string.Join(':', h.Split(':')[1..])));
        Assert.StartsWith("findhost ok agent-2:UP:OPEN:", hosts[1]);
        Assert.Equal("findhost NOT_FOUND Failed to find host data: no agent 'render-07' has registered with this coordinator (hosts are agents, named by their agent id)", hosts[2]);
        // CueGUI's Monitor Hosts and cueadmin -la: one allocation holds every agent.
        Assert.Equal("allocs ok rmtc.agents:rmtc:2:0:0", hosts[3]);
        // CueGUI's Allocations window lists the allocation's hosts, its Subscription Graphs find it by name.
        Assert.Equal(["allocfind ok rmtc.agents:rmtc", "allochosts ok agent-1,agent-2"], hosts[4..6]);
        Assert.Equal("allocfind NOT_FOUND Failed to find allocation data: rmtc has one allocation, rmtc.agents (every agent), not 'local.general'", hosts[6]);
        // CueGUI's Subscriptions window: the show's one subscription, to every agent, nothing guaranteed, a burst of every core (hundredths).
        var cores = (int)Math.Round(farm.Scheduler.View.Agents.Sum(a => a.Capacity.Cores) * 100);
        Assert.Equal($"subscriptions ok rmtc.agents.rnd:rnd:rmtc.agents:0:{cores}", hosts[7]);
        Assert.StartsWith("subscriptions NOT_FOUND Failed to find show data: no job of this farm is in show 'nothing'", hosts[8]);
        // CueGUI's Services and Stuck Frame windows open on the (empty) default services.
        Assert.Equal("defaultservices ok 0", hosts[9]);
        // CueGUI's Limits window and layer Properties dialog open on the (empty) limits: an empty answer is 0 bytes.
        Assert.Equal("raw ok 0", hosts[10]);

        // Resumed: a running attempt is a proc on its agent, with the job, the frame and when it was dispatched.
        var running = await CallsAsync(address, $"resume={id}", "waitprocs=-train|", "hostprocs=agent-1", "hostprocs=agent-2", $"updated={id}@{before}");
        var procs = running[1]["waitprocs ok ".Length..].Split(',');
        // A run's preparation and evaluation are leased too: they are procs whose frame is the task.
        Assert.Contains(procs, p => p.Contains("-train|", StringComparison.Ordinal));
        Assert.All(procs, p =>
        {
            var parts = p.Split('|');
            Assert.Contains(parts[0], new[] { "agent-1", "agent-2" });
            Assert.Equal(JobName, parts[1]);
            Assert.Matches("^(000[123]-train|prepare|evaluate)$", parts[2]);
            Assert.InRange(long.Parse(parts[3], System.Globalization.CultureInfo.InvariantCulture), before, before + 600);
            // Never zero: cueadmin divides by it (the spec reserves 1g).
            Assert.Equal("1048576", parts[4]);
        });
        Assert.All(running[2..4], line => Assert.Matches(@"^hostprocs ok( agent-\d\|.*)?$", line));
        Assert.Contains($"{id}/", running[4]);

        await FarmFixture.WaitUntilAsync(() => farm.Scheduler.ViewRun(id)!.IsFinal, TimeSpan.FromMinutes(3), farm.AgentLogs);
        var after = DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1;
        var done = await CallsAsync(address, $"layerframes={layer}", $"updated={id}@{after}", $"updated={id}@0", "procs", "shows", "activeshows");
        var frames = done[0]["layerframes ok ".Length..].Split(',');
        Assert.Equal(3, frames.Length);
        Assert.All(frames, f => Assert.Matches("^000[123]-train:SUCCEEDED:0:agent-[12]$", f));
        Assert.Matches(@"^updated ok FINISHED \d+$", done[1]);
        Assert.Matches($@"^updated ok FINISHED \d+ {id}/1:SUCCEEDED,{id}/2:SUCCEEDED,{id}/3:SUCCEEDED$", done[2]);
        Assert.Equal(["procs ok", "shows ok rnd:0:0:1:3", "activeshows ok"], done[3..]);
    }

    [Fact]
    public async Task Calls_the_farm_does_not_serve_say_so_in_its_words_naming_the_call_and_what_it_does_instead()
    {
        await using var farm = await FarmFixture.StartAsync();
        var address = $"{farm.App.OpenCueAddress()!.Host}:{farm.App.OpenCueAddress()!.Port}";

        var lines = await CallsAsync(address,
            "raw=/facility.FacilityInterface/GetAllocations",
            "raw=/service.ServiceInterface/CreateService",
            "raw=/job.FrameInterface/MarkAsWaiting",
            "raw=/job.JobInterface/ReorderFrames",
            "raw=/host.HostInterface/Lock",
            "raw=/limit.LimitInterface/CreateLimit",
            "raw=/job.JobInterface/NoSuchCall",
            "raw=/rmtc.farm.v1.JobService/ListJobs",
            "raw=/show.ShowInterface/GetShows");
        Assert.Equal("raw UNIMPLEMENTED facility.FacilityInterface/GetAllocations is not served by this rmtc coordinator: rmtc does not run Cuebot's allocation model: agents take any shard that fits their resources (cores, memory, GPUs, tags), so every agent is in the one allocation rmtc.agents (listed by AllocationInterface/GetAll, its hosts by GetHosts) and each show's one subscription is to it, without size or burst limits (ShowInterface/GetSubscriptions); there are no facilities, and allocations and subscriptions cannot be changed", lines[0]);
        Assert.StartsWith("raw UNIMPLEMENTED service.ServiceInterface/CreateService is not served by this rmtc coordinator: rmtc has no OpenCue services (GetDefaultServices lists none): every layer runs `rmtc train`", lines[1]);
        Assert.StartsWith("raw UNIMPLEMENTED job.FrameInterface/MarkAsWaiting is not served by this rmtc coordinator: rmtc does not mark frames done or waiting: a frame is a shard", lines[2]);
        Assert.StartsWith("raw UNIMPLEMENTED job.JobInterface/ReorderFrames is not served by this rmtc coordinator: rmtc plans a round's shards itself", lines[3]);
        Assert.StartsWith("raw UNIMPLEMENTED host.HostInterface/Lock is not served by this rmtc coordinator: rmtc does not lock hosts over OpenCue", lines[4]);
        Assert.StartsWith("raw UNIMPLEMENTED limit.LimitInterface/CreateLimit is not served by this rmtc coordinator: rmtc has no OpenCue limits (GetAll lists none)", lines[5]);
        Assert.StartsWith("raw UNIMPLEMENTED job.JobInterface/NoSuchCall is not served by this rmtc coordinator: rmtc changes a launched job only to kill, pause or resume it, set its priority or max retries, comment on it, and retry, kill or eat its frames", lines[6]);
        Assert.Equal("raw UNIMPLEMENTED only OpenCue's services answer on this port: the farm's own services are on the coordinator's main port (Coordinator:Port)", lines[7]);
        Assert.StartsWith("raw ok", lines[8]);
        Assert.All(lines, l => Assert.DoesNotContain("is unimplemented", l, StringComparison.OrdinalIgnoreCase));
    }

    private static async Task<string[]> CallsAsync(string address, params string[] calls) => [.. await PycueCalls.RunAsync(address, calls)];
}
