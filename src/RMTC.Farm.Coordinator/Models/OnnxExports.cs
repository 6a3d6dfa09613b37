using System.Reflection;
using Grpc.Core;
using RMTC.Farm.Coordinator.Lineage;
using RMTC.Farm.Coordinator.Security;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Datasets;
using RMTC.Farm.Core.Digests;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Core.Rights;
using RMTC.Farm.Core.Weights;
using RMTC.Farm.Onnx;
using RMTC.Farm.Onnx.Export;
using RMTC.Farm.Onnx.Graph;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Coordinator.Models;

/// <summary>
/// Models leaving the farm: exports a run's final model as ONNX into the artifact store (recorded as a variant of the
/// model), and checks and records inferences made with an export. Lineage stays in the coordinator's store.
/// </summary>
public sealed class OnnxExports(LineageQueries queries, IRunStore store, IArtifactStore artifacts, DerivationLog derivations, DatasetConfinement confinement, TimeProvider time, Scheduling.FarmScheduler scheduler)
{
    private static readonly string Version =
        typeof(OnnxExports).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "";

    /// <summary>
    /// The ONNX export of a run's model (made and recorded on first request; the same bytes after), and a stream over
    /// its bytes in the artifact store, which the caller disposes.
    /// </summary>
    public async Task<(OnnxExport Header, Stream Content)> ExportAsync(string runOrDigest, string by, CancellationToken ct)
    {
        var m = await ResolveAsync(runOrDigest, ct);
        if (m.State != RunStates.Succeeded || m.FinalModelDigest is not { } modelDigest)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"run {m.RunId} is {m.State} and has no final model to export; wait for it to succeed (`rmtc status {m.RunId}`)"));
        }

        if (!artifacts.Exists(modelDigest))
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"run {m.RunId}: the model sha256:{modelDigest} is missing from the artifact store ({artifacts.Location})"));
        }

        var provenance = new OnnxProvenance
        {
            RunId = m.RunId,
            ModelDigest = modelDigest,
            DatasetDigests = [m.Dataset.Digest],
            Datasets = [$"{m.Dataset.Name} {m.Dataset.Version}"],
            LicenceClosure = m.LicenceClosure ?? new LicenceClosure(),
            Recipe = m.Recipe,
            RmtcVersion = Version,
        };
        // The sample shape and class names live in the dataset's descriptor, read where the run found it.
        DatasetDescriptor descriptor;
        try
        {
            descriptor = Dataset.ReadDescriptor(m.Dataset.Path);
        }
        catch (Exception e) when (e is DatasetException or IOException or UnauthorizedAccessException)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"run {m.RunId}: cannot read the dataset descriptor at {m.Dataset.Path} for the sample shape and classes ({e.Message}); restore the dataset there"));
        }

        provenance.SampleShape = descriptor.SampleShape;
        provenance.Classes = descriptor.Classes;
        provenance.InputChannels = descriptor.InputChannels.ToList();
        provenance.TargetChannels = descriptor.TargetChannels.ToList();

        byte[] bytes;
        string? templateDigest = null;
        if (m.Spec?.Model is { } scripted)
        {
            (bytes, templateDigest) = ScriptedOnnxTemplate.Export(m, scripted, artifacts, confinement, artifacts.ReadWeights(modelDigest).Tensors, provenance);
        }
        else
        {
            try
            {
                var (weights, _) = artifacts.ReadWeights(modelDigest);
                bytes = OnnxExporter.Export(weights, provenance);
            }
            catch (OnnxExportException e)
            {
                throw new RpcException(new Status(StatusCode.FailedPrecondition, $"run {m.RunId}: cannot export recipe {m.Recipe} as ONNX: {e.Message}"));
            }
        }

        var onnxDigest = artifacts.Put(bytes, ArtifactKind.Onnx).Digest;
        var details = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["opset"] = OpsetOf(bytes).ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["recipe"] = m.Recipe,
            ["rmtcVersion"] = Version,
        };
        if (templateDigest is not null)
        {
            details["onnxTemplate"] = templateDigest;
        }

        // Recorded once per file: exporting the same model again returns the first record.
        var recordDigest = await derivations.AppendAsync(new DerivationRecord
        {
            Kind = DerivationKinds.Export,
            RunId = m.RunId,
            At = time.GetUtcNow(),
            By = by,
            ModelDigest = modelDigest,
            Format = "onnx",
            VariantDigest = onnxDigest,
            Details = details,
        }, ct);
        var header = new OnnxExport
        {
            RunId = m.RunId,
            ModelDigest = modelDigest,
            OnnxDigest = onnxDigest,
            Bytes = (ulong)bytes.LongLength,
            Recipe = m.Recipe,
            RecordDigest = recordDigest,
            Opset = (int)OpsetOf(bytes),
        };
        return (header, artifacts.OpenRead(onnxDigest, ArtifactKind.Onnx));
    }

    /// <summary>The ai.onnx operator set a file declares: ours for a recipe, the template's for a TorchScript model.</summary>
    private static long OpsetOf(byte[] onnx) =>
        RMTC.Farm.Onnx.Protos.ModelProto.Parser.ParseFrom(onnx).OpsetImport.FirstOrDefault(o => o.Domain.Length == 0)?.Version ?? OnnxFormat.Opset;

    /// <summary>May the export <paramref name="onnxDigest"/> run inference? Throws PERMISSION_DENIED when its closure forbids it.</summary>
    public async Task<InferencePermit> CheckAsync(string onnxDigest, CancellationToken ct)
    {
        var (m, export) = await FindExportAsync(onnxDigest, ct);
        var (allowed, use, constraints, reason) = InferencePermission.Check(m.LicenceClosure);
        if (!allowed)
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied, $"{reason} (run {m.RunId}, model sha256:{export.ModelDigest})"));
        }

        var permit = new InferencePermit { RunId = m.RunId, ModelDigest = export.ModelDigest, Recipe = m.Recipe, AiInference = use };
        permit.ConstraintInfo.AddRange(constraints);
        return permit;
    }

    /// <summary>Records one inference with an export (refused like <see cref="CheckAsync"/>).</summary>
    public async Task<RecordInferenceResponse> RecordAsync(RecordInferenceRequest request, CancellationToken ct)
    {
        var permit = await CheckAsync(Digest(request.OnnxDigest, "onnx_digest"), ct);
        if (request.InputDigests.Count == 0 || request.OutputDigests.Count == 0)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "an inference record needs at least one input digest and one output digest"));
        }

        var record = new DerivationRecord
        {
            Kind = DerivationKinds.Inference,
            RunId = permit.RunId,
            At = time.GetUtcNow(),
            By = request.Host.Length > 0 ? $"{request.User}@{request.Host}" : request.User,
            ModelDigest = permit.ModelDigest,
            Format = "onnx",
            VariantDigest = request.OnnxDigest,
            Inputs = request.InputDigests.Select(d => Digest(d, "input_digests")).ToList(),
            Outputs = request.OutputDigests.Select(d => Digest(d, "output_digests")).ToList(),
            Details = new(StringComparer.Ordinal) { ["executionProvider"] = request.ExecutionProvider, ["recipe"] = permit.Recipe },
        };
        var digest = await derivations.AppendAsync(record, ct);
        return new RecordInferenceResponse { RunId = permit.RunId, RecordDigest = digest };
    }

    private async Task<(RunManifest Manifest, DerivationRecord Export)> FindExportAsync(string onnxDigest, CancellationToken ct)
    {
        var export = await derivations.FindExportAsync(Digest(onnxDigest, "onnx_digest"), ct)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"sha256:{onnxDigest} is not an ONNX export this farm made: export the model with `rmtc export RUN --onnx FILE` and run that file"));
        var m = await store.GetAsync(export.RunId, ct)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"the run {export.RunId} that exported sha256:{onnxDigest} is not in the lineage store"));
        return (m, export);
    }

    /// <summary>A run by id or prefix, or the run that made a model (or an export) with this digest.</summary>
    /// <summary>The run a run id, model digest or ONNX export digest names (NotFound otherwise): for show scoping.</summary>
    public Task<RunManifest> RunOfAsync(string runOrDigest, CancellationToken ct) => ResolveAsync(runOrDigest, ct);

    /// <summary>The run an ONNX export digest was made from (NotFound otherwise): for show scoping.</summary>
    public async Task<RunManifest> RunOfExportAsync(string onnxDigest, CancellationToken ct) => (await FindExportAsync(onnxDigest, ct)).Manifest;

    private async Task<RunManifest> ResolveAsync(string runOrDigest, CancellationToken ct)
    {
        var text = runOrDigest.StartsWith("sha256:", StringComparison.Ordinal) ? runOrDigest[7..] : runOrDigest;
        if (Sha256Digest.IsValid(text))
        {
            var runs = await store.LookupAsync(LineageIndexKinds.Model, text, ct);
            if (runs.Count == 0 && await derivations.FindExportAsync(text, ct) is { } export)
            {
                runs = [export.RunId];
            }

            // Two runs may make the same bytes (same seed, same data): any of them has the same provenance but the id; take the first.
            if (runs.Count > 0 && await store.GetAsync(runs[0], ct) is { } byModel)
            {
                return byModel;
            }
        }

        // The scheduler's copy first: a run that just ended is "succeeded" there (and to its watchers) a commit window
        // before its final manifest is in the store.
        return await scheduler.GetManifestAsync(runOrDigest, ct) ?? await queries.FindRunAsync(runOrDigest, scheduler.ResolveRunId, ct)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"'{runOrDigest}' is neither a run id (or unique prefix) nor the digest of a model in the lineage store: `rmtc status` lists runs"));
    }

    private static string Digest(string text, string field)
    {
        var digest = text.StartsWith("sha256:", StringComparison.Ordinal) ? text[7..] : text;
        return Sha256Digest.IsValid(digest)
            ? digest
            : throw new RpcException(new Status(StatusCode.InvalidArgument, $"{field}: '{text}' is not a sha256 digest (64 lowercase hex characters, optionally prefixed sha256:)"));
    }
}
