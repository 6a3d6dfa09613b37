using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using RMTC.Farm.Cli.Client;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Cli.Commands;

/// <summary><c>rmtc export RUN|DIGEST --onnx out.onnx</c>: a run's model as ONNX, recorded in its lineage.</summary>
internal static class ExportCommand
{
    public static Command Create()
    {
        var target = new Argument<string>("RUN|DIGEST") { Description = "Run id (or unique prefix), or the sha256 of a model a run produced" };
        var onnx = new Option<FileInfo>("--onnx") { Description = "Where to write the ONNX file (opset 17, or a TorchScript model's template's own; provenance in metadata_props)", Required = true };
        var coordinator = FarmClient.CoordinatorOption();
        var json = FarmClient.JsonOption();
        var command = new Command("export", """
            Export a run's final model as ONNX, for ONNX Runtime in Nuke, Maya or pipeline scripts. The coordinator builds
            the file from the stored model (weights as initializers, dynamic batch and, where the recipe allows, spatial
            sizes), keeps it in its artifact store and records it in the run's lineage as a variant of the model; the file
            carries its provenance (run id, model digest, dataset digests, licence closure) in metadata_props.
            Run it with `rmtc infer`.
            """)
        {
            target, onnx, coordinator, json,
        };
        command.SetAction((parse, ct) => FarmClient.RunAsync(parse.GetRequiredValue(coordinator), async channel =>
        {
            var file = parse.GetRequiredValue(onnx);
            var client = new ModelService.ModelServiceClient(channel);
            using var call = client.ExportOnnx(new ExportOnnxRequest { RunOrDigest = parse.GetRequiredValue(target), User = Environment.UserName }, cancellationToken: ct);
            OnnxExport? header = null;
            var temp = file.FullName + ".part";
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long written = 0;
            try
            {
                await using (var output = new FileStream(temp, FileMode.Create, FileAccess.Write))
                {
                    while (await call.ResponseStream.MoveNext(ct))
                    {
                        var chunk = call.ResponseStream.Current;
                        header ??= chunk.Header;
                        hash.AppendData(chunk.Data.Span);
                        await output.WriteAsync(chunk.Data.Memory, ct);
                        written += chunk.Data.Length;
                    }
                }

                var digest = Convert.ToHexStringLower(hash.GetHashAndReset());
                if (header is null || digest != header.OnnxDigest || written != (long)header.Bytes)
                {
                    await Console.Error.WriteLineAsync($"error: the export arrived damaged ({written} bytes, sha256:{digest}; expected {header?.Bytes} bytes, sha256:{header?.OnnxDigest}); try again");
                    return 1;
                }

                File.Move(temp, file.FullName, overwrite: true);
            }
            finally
            {
                File.Delete(temp);
            }

            if (parse.GetValue(json))
            {
                Console.WriteLine(JobText.ToJson(header));
                return 0;
            }

            var inv = CultureInfo.InvariantCulture;
            Console.WriteLine(string.Create(inv, $"exported run {header.RunId} ({header.Recipe}) model sha256:{header.ModelDigest}"));
            Console.WriteLine(string.Create(inv, $"      to {file.FullName} ({header.Bytes} bytes, ONNX opset {header.Opset})"));
            Console.WriteLine(string.Create(inv, $"    onnx sha256:{header.OnnxDigest}, recorded as a variant of the model (record sha256:{header.RecordDigest})"));
            return 0;
        }));
        return command;
    }
}
