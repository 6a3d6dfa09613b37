using System.Security.Cryptography;
using System.Threading.Channels;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using RMTC.Farm.Coordinator.Runs;
using RMTC.Farm.Core.Lineage;

namespace RMTC.Farm.Coordinator.Scheduling;

/// <summary>Agents: registration, sessions, heartbeats, failures reported by agents, and expiry of silent agents.</summary>
public sealed partial class FarmScheduler
{
    /// <summary>Registers (or re-registers) an agent and returns the token its session must present.</summary>
    public AgentWelcome Register(AgentRegistration request)
    {
        if (string.IsNullOrWhiteSpace(request.AgentId))
        {
            throw new ArgumentException("agent_id is required: set Agent:Id or let the agent default to its host name");
        }

        var token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        lock (_gate)
        {
            if (!_agents.TryGetValue(request.AgentId, out var agent))
            {
                agent = new AgentState
                {
                    Id = request.AgentId,
                    Hostname = request.Hostname,
                    Slots = Math.Max(1, request.Slots),
                    Capacity = request.Capacity,
                    SessionToken = token,
                };
                _agents[agent.Id] = agent;
                _roster.Add(agent);
            }

            agent.Hostname = request.Hostname;
            agent.Slots = Math.Max(1, request.Slots);
            agent.Capacity = request.Capacity;
            agent.SessionToken = token;
            agent.Version = request.Version;
            agent.LastSeen = Now;
            ChangedLocked(mustSee: true);
            LogAgentRegistered(agent.Id, agent.Hostname, agent.Slots, agent.Capacity.Gpus);
        }

        return new AgentWelcome(token, _options.HeartbeatIntervalMs, _options.LeaseTimeoutMs);
    }

    /// <summary>Opens an agent's session; returns the channel of messages to send it.</summary>
    public ChannelReader<AgentCommand> Connect(string agentId, string token)
    {
        lock (_gate)
        {
            if (!_agents.TryGetValue(agentId, out var agent) || agent.SessionToken != token)
            {
                throw new UnauthorizedAccessException($"agent '{agentId}' has no registration with this token: call Register first (the coordinator may have restarted)");
            }

            // A new session replaces an old one (the agent reconnected); the old writer ends.
            agent.Outbox?.Writer.TryComplete();
            var outbox = Channel.CreateUnbounded<AgentCommand>(new UnboundedChannelOptions { SingleReader = true });
            agent.Outbox = outbox;
            agent.FreeSince = Now;
            agent.LastSeen = Now;
            ChangedLocked(mustSee: true);
            LogAgentConnected(agentId);
            DispatchLocked();
            return outbox.Reader;
        }
    }

    /// <summary>The session ended. Leases stay until the lease timeout: the agent may come back and still upload.</summary>
    public void Disconnect(string agentId, ChannelReader<AgentCommand> session)
    {
        lock (_gate)
        {
            if (_agents.TryGetValue(agentId, out var agent) && agent.Outbox is { } outbox && ReferenceEquals(outbox.Reader, session))
            {
                outbox.Writer.TryComplete();
                agent.Outbox = null;
                ChangedLocked(mustSee: true);
                if (agent.Leases.Count > 0)
                {
                    LogAgentDisconnectedWithLeases(agentId, agent.Leases.Count);
                }
                else
                {
                    LogAgentDisconnected(agentId);
                }
            }
        }
    }

    /// <summary>Records a heartbeat and the progress of the agent's running shards.</summary>
    public void Heartbeat(string agentId, AgentHeartbeat heartbeat)
    {
        lock (_gate)
        {
            if (!_agents.TryGetValue(agentId, out var agent))
            {
                return;
            }

            agent.LastSeen = Now;
            agent.Gpus = heartbeat.Gpus;
            ChangedLocked();
            ReconcileLocked(agent, heartbeat);
            ObserveYieldLocked(agent, heartbeat);
            foreach (var p in heartbeat.Running)
            {
                if (agent.Leases.TryGetValue(p.LeaseId, out var lease) && lease.Epoch == p.LeaseEpoch)
                {
                    lease.Progress = p;
                    if (!lease.Run.Events.HasSubscribers)
                    {
                        continue;
                    }

                    var detail = p.SamplesTotal == 0
                        ? p.Phase
                        : $"{p.Phase}: epoch {p.TrainingEpoch}/{p.TrainingEpochs}, {p.SamplesSeen}/{p.SamplesTotal} samples, loss {p.Loss:G4}";
                    var what = lease.Shard.Task?.Name ?? $"round {lease.Round} shard {lease.Shard.Index}";
                    EventLocked(lease.Run, "shard-progress", $"{what} on {agentId} {detail}", lease.Shard.Index, agentId, keep: false);
                }
            }
        }
    }

    /// <summary>
    /// A lease the agent no longer reports (it restarted, or the coordinator did and the shard ended meanwhile) is
    /// given up at once instead of waiting for a timeout. Young leases are spared: the assignment may be in flight.
    /// </summary>
    private void ReconcileLocked(AgentState agent, AgentHeartbeat heartbeat)
    {
        var grace = TimeSpan.FromMilliseconds(Math.Max(3 * _options.HeartbeatIntervalMs, 2000));
        var reported = heartbeat.Running.Select(p => p.LeaseId).ToHashSet(StringComparer.Ordinal);
        foreach (var lease in agent.Leases.Values.ToList())
        {
            if (reported.Contains(lease.Id) || lease.Shard.Phase != ShardPhase.Leased || Now - lease.GrantedAt < grace)
            {
                continue;
            }

            _metrics?.LeaseExpired(lease.Agent.Id);
            if (lease.Shard.Task is not null)
            {
                TaskLostLocked(lease, AttemptOutcomes.Expired, $"{agent.Id} no longer runs this lease");
                continue;
            }

            lease.Attempt.Outcome = AttemptOutcomes.Expired;
            lease.Attempt.EndedAt = Now;
            lease.Attempt.Error = $"{agent.Id} no longer runs this lease";
            ReleaseLocked(lease);
            EventLocked(lease.Run, "lease-expired", $"round {lease.Round} shard {lease.Shard.Index}: {agent.Id} no longer runs lease epoch {lease.Epoch}; shard queued again", lease.Shard.Index, agent.Id,
                facts: new JsonObject { ["lease"] = lease.Id, ["epoch"] = lease.Epoch });
            if (!lease.Run.IsFinal)
            {
                RequeueLocked(lease.Run, lease.Shard, countsAsFailure: false, "agent no longer runs it");
            }

            SaveLocked(lease.Run);
            DispatchLocked();
        }
    }

    /// <summary>The agent says an attempt failed (trainer crashed, data unreadable): the shard goes back to the queue.</summary>
    public void ShardFailed(string agentId, AttemptFailure failed)
    {
        lock (_gate)
        {
            if (!_leases.TryGetValue(failed.LeaseId, out var lease) || lease.Agent.Id != agentId || lease.Epoch != failed.LeaseEpoch)
            {
                return;
            }

            if (lease.Shard.Phase != ShardPhase.Leased || !lease.Shard.Holds(lease))
            {
                ReleaseLocked(lease);
                return;
            }

            if (lease.Shard.Task is not null)
            {
                TaskFailedLocked(lease, AgentText.Cut(failed.Reason), AttemptOutcomes.Failed, failed.InputRefused);
                return;
            }

            _metrics?.ShardFailed(agentId);
            lease.Attempt.Outcome = AttemptOutcomes.Failed;
            lease.Attempt.EndedAt = Now;
            var reason = AgentText.Cut(failed.Reason);
            lease.Attempt.Error = reason;
            ReleaseLocked(lease);
            LogShardFailed(lease.Run.Id, lease.Round, lease.Shard.Index, agentId, reason);
            EventLocked(lease.Run, "shard-failed", $"round {lease.Round} shard {lease.Shard.Index} failed on {agentId}: {reason}", lease.Shard.Index, agentId);
            RequeueLocked(lease.Run, lease.Shard, countsAsFailure: true, reason);
            SaveLocked(lease.Run);
            DispatchLocked();
        }
    }

    /// <summary>Expires the leases of agents silent for longer than the lease timeout. Returns how many leases expired.</summary>
    public int ExpireSilentAgents()
    {
        lock (_gate)
        {
            var cutoff = Now - TimeSpan.FromMilliseconds(_options.LeaseTimeoutMs);
            var expired = 0;
            foreach (var agent in _agents.Values.Where(a => a.LastSeen < cutoff).ToList())
            {
                foreach (var lease in agent.Leases.Values.ToList())
                {
                    if (lease.Shard.Phase == ShardPhase.Completing && ReferenceEquals(lease.Shard.Lease, lease))
                    {
                        // Its result is being merged right now: the upload finished, only the agent went quiet.
                        continue;
                    }

                    _metrics?.LeaseExpired(lease.Agent.Id);
                    expired++;
                    if (lease.Shard.Task is not null)
                    {
                        TaskLostLocked(lease, AttemptOutcomes.Expired, $"no heartbeat from {agent.Id} for {_options.LeaseTimeoutMs} ms");
                        continue;
                    }

                    lease.Attempt.Outcome = AttemptOutcomes.Expired;
                    lease.Attempt.EndedAt = Now;
                    lease.Attempt.Error = $"no heartbeat from {agent.Id} for {_options.LeaseTimeoutMs} ms";
                    var current = lease.Shard.Holds(lease) && lease.Shard.Phase == ShardPhase.Leased;
                    ReleaseLocked(lease);
                    LogLeaseExpired(lease.Run.Id, lease.Round, lease.Shard.Index, lease.Epoch, agent.Id);
                    EventLocked(lease.Run, "lease-expired", $"round {lease.Round} shard {lease.Shard.Index}: lease epoch {lease.Epoch} on {agent.Id} expired (no heartbeat); shard queued again", lease.Shard.Index, agent.Id,
                        facts: new JsonObject { ["lease"] = lease.Id, ["epoch"] = lease.Epoch });
                    if (current && !lease.Run.IsFinal)
                    {
                        RequeueLocked(lease.Run, lease.Shard, countsAsFailure: false, "lease expired");
                    }

                    SaveLocked(lease.Run);
                }

                if (agent.Connected)
                {
                    // A session that is open but silent is dead in practice; end it so the agent reconnects cleanly.
                    agent.Outbox!.Writer.TryComplete();
                    agent.Outbox = null;
                    ChangedLocked(mustSee: true);
                }
            }

            if (expired > 0)
            {
                DispatchLocked();
            }

            return expired;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Agent {AgentId} registered from {Hostname}: {Slots} slot(s), {Gpus} GPU(s)")]
    private partial void LogAgentRegistered(string agentId, string hostname, int slots, uint gpus);

    [LoggerMessage(Level = LogLevel.Information, Message = "Agent {AgentId} connected")]
    private partial void LogAgentConnected(string agentId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Agent {AgentId} disconnected with {Leases} lease(s) open; they expire unless it returns")]
    private partial void LogAgentDisconnectedWithLeases(string agentId, int leases);

    [LoggerMessage(Level = LogLevel.Information, Message = "Agent {AgentId} disconnected")]
    private partial void LogAgentDisconnected(string agentId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId} round {Round} shard {Shard} failed on {AgentId}: {Reason}")]
    private partial void LogShardFailed(string runId, int round, int shard, string agentId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId} round {Round} shard {Shard}: lease epoch {Epoch} on {AgentId} expired")]
    private partial void LogLeaseExpired(string runId, int round, int shard, long epoch, string agentId);
}
