using System.Globalization;
using System.Threading.Channels;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using RMTC.Farm.Coordinator.Hosting;
using RMTC.Farm.Coordinator.Runs;
using RMTC.Farm.Coordinator.Scheduling;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Weights;

namespace RMTC.Farm.Integration.Tests;

/// <summary>
/// The scheduler driven directly, with no server: a fake clock, the file stores in a folder of its own and a synthesized
/// classifier dataset. The scheduler-level tests (dispatch, round policies, leased tasks, frame actions) share it; on
/// disposal it lets the journal's writes land, then removes the folder.
/// </summary>
internal sealed class SchedulerHarness : IAsyncDisposable
{
    /// <param name="prefix">Name prefix of the temporary folder, so a failed run's leftovers say which tests they were.</param>
    /// <param name="start">Where the fake clock starts (ISO 8601).</param>
    /// <param name="leaseTimeoutMs">Silence after which an agent loses its leases.</param>
    /// <param name="samples">Samples of the synthesized dataset.</param>
    /// <param name="wrapStore">Wraps the file run store the journal writes to (a test's hooks); null: the store itself.</param>
    public SchedulerHarness(string prefix, string start, int leaseTimeoutMs, int samples = 30, Func<IRunStore, IRunStore>? wrapStore = null)
    {
        Root = Directory.CreateTempSubdirectory(prefix).FullName;
        Time = new FakeTimeProvider(DateTimeOffset.Parse(start, CultureInfo.InvariantCulture));
        var options = Options.Create(new CoordinatorOptions { DataDirectory = Path.Combine(Root, "farm"), LeaseTimeoutMs = leaseTimeoutMs });
        // Every manifest written in parts is read back and compared with the whole document (see DisposeAsync).
        IRunStore store = new FileRunStore(options);
        _journal = new RunJournal(wrapStore?.Invoke(store) ?? store, Time, new TestLifetime(), NullLogger<RunJournal>.Instance) { VerifyWrites = true };
        var journal = _journal;
        Artifacts = new FileArtifactStore(options);
        Scheduler = new FarmScheduler(journal, Artifacts, Time, options, NullLogger<FarmScheduler>.Instance);
        Data = Path.Combine(Root, "data");
        RMTC.Farm.Training.Datasets.DatasetSynthesizer.Synthesize("classifier", Data, samples, seed: 1);
    }

    /// <summary>The temporary folder everything lives in.</summary>
    public string Root { get; }

    public FakeTimeProvider Time { get; }

    public FileArtifactStore Artifacts { get; }

    public FarmScheduler Scheduler { get; }

    /// <summary>The synthesized classifier dataset.</summary>
    public string Data { get; }

    /// <summary>The next command in an agent's inbox, which must be a lease.</summary>
    public static WorkOrder Assigned(ChannelReader<AgentCommand> inbox)
    {
        Assert.True(inbox.TryRead(out var message), "the agent was given no lease");
        return message.Assign;
    }

    /// <summary>
    /// Delivers a result for <paramref name="lease"/>: the global weights shifted by <paramref name="shift"/> (or
    /// poisoned with NaN), stored first as an upload is, since the scheduler reads a result by its digest.
    /// </summary>
    public Task<UploadDecision> DeliverAsync(string agent, WorkOrder lease, float shift, bool poison = false, long samples = 10)
    {
        var tensors = Artifacts.ReadWeights(lease.GlobalWeightsDigest).Tensors;
        foreach (var tensor in tensors.Where(t => t.DType == TensorDType.F32))
        {
            var values = tensor.AsFloat32();
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = poison ? float.NaN : values[i] + shift;
            }
        }

        var digest = Artifacts.PutWeights(tensors).Digest;
        return Scheduler.CompleteAsync(SchedulerInputs.Upload(lease, agent, digest, samples: samples, finalLoss: 0.5));
    }

    private readonly RunJournal _journal;

    public async ValueTask DisposeAsync()
    {
        // Manifests are written in the background; let them land before the folder goes.
        await Scheduler.FlushAsync();
        Directory.Delete(Root, recursive: true);
        // Whatever the test did, every incremental manifest write read back as the manifest it recorded.
        Assert.Empty(_journal.Mismatches);
    }
}
