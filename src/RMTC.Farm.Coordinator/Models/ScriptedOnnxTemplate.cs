using Grpc.Core;
using RMTC.Farm.Coordinator.Security;
using RMTC.Farm.Coordinator.Storage;
using RMTC.Farm.Core.Digests;
using RMTC.Farm.Core.Jobs;
using RMTC.Farm.Core.Lineage;
using RMTC.Farm.Core.Weights;
using RMTC.Farm.Onnx.Export;
using RMTC.Farm.Onnx.Graph;

namespace RMTC.Farm.Coordinator.Models;

/// <summary>
/// The export of a run that trained a spec's <c>model:</c> block: no graph of ours describes a TD's module, so the file
/// is the template the spec names (<c>model.onnx_template</c>, exported by PyTorch from the same module) with the run's
/// final state put in place of its initializers (<see cref="OnnxTemplateFiller"/>).
/// </summary>
internal static class ScriptedOnnxTemplate
{
    /// <summary>The filled template's bytes and the template's sha256; FailedPrecondition naming what is wrong otherwise.</summary>
    public static (byte[] Bytes, string TemplateDigest) Export(
        RunManifest m, ModelSpec model, IArtifactStore artifacts, DatasetConfinement confinement, IReadOnlyList<NamedTensor> trained, OnnxProvenance provenance)
    {
        if (model.OnnxTemplate is not { } template)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition,
                $"run {m.RunId} trained the TorchScript model {model.File}, and its spec names no ONNX template, which a scripted model's export needs "
                + $"(the farm cannot turn TorchScript into ONNX): {OnnxTemplateFiller.HowToMakeTemplate}; then submit the spec again"));
        }

        // The coordinator reads the template as it reads the model file at submission: only from under the dataset roots.
        if (confinement.CheckModelFile(template) is { } refusal)
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied, $"run {m.RunId}: ONNX template: {refusal}"));
        }

        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(template);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition,
                $"run {m.RunId}: cannot read the ONNX template {template} named by model.onnx_template ({e.Message}); restore it there"));
        }

        // The run's initial weights are the module's state as saved, which the template was exported with: they tell a renamed initializer's tensor.
        IReadOnlyList<NamedTensor>? initial = m.InitialWeightsDigest.Length > 0 && artifacts.Exists(m.InitialWeightsDigest)
            ? artifacts.ReadWeights(m.InitialWeightsDigest).Tensors
            : null;
        try
        {
            var filled = OnnxTemplateFiller.Fill(bytes, trained, provenance, initial, $"ONNX template {template}");
            return (Google.Protobuf.MessageExtensions.ToByteArray(filled), Sha256Digest.OfBytes(bytes));
        }
        catch (OnnxExportException e)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"run {m.RunId}: cannot export the TorchScript model {model.File} as ONNX: {e.Message}"));
        }
    }
}
