using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Grpc.Core;
using RMTC.Farm.Cli.Client;
using RMTC.Farm.Core.Digests;
using RMTC.Farm.Core.Images;
using RMTC.Farm.Core.Images.Exr;
using RMTC.Farm.Core.Rights;
using RMTC.Farm.Core.Weights;
using RMTC.Farm.Inference.Runtime;
using RMTC.Farm.Onnx;
using RMTC.Farm.Onnx.Export;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Cli.Commands;

/// <summary><c>rmtc infer MODEL.onnx --input ... --output ...</c>: run an exported model with ONNX Runtime, recorded in lineage.</summary>
internal static class InferCommand
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static Command Create()
    {
        var model = new Argument<FileInfo>("MODEL") { Description = "An ONNX file written by `rmtc export`" };
        var inputs = new Option<FileInfo[]>("--input", "-i")
        {
            Description = "Input file(s): .png images, .safetensors samples with an 'input' tensor [C,H,W] or [N,C,H,W], or .exr frames (render models: channels read by name)",
            Required = true,
            AllowMultipleArgumentsPerToken = true,
        };
        var output = new Option<string?>("--output", "-o")
        {
            Description = "Image models: the output .png, .safetensors or .exr (a directory for several inputs). Classifiers: optional .json for the scores",
        };
        var tile = new Option<int>("--tile") { Description = "EXR frames: largest tile side in pixels (tiles overlap by 32 and are blended)", DefaultValueFactory = _ => 512 };
        var top = new Option<int>("--top") { Description = "Classifiers: how many labels to print per input", DefaultValueFactory = _ => 3 };
        var cpu = new Option<bool>("--cpu") { Description = "Use ONNX Runtime's CPU execution provider even where CUDA is available" };
        var coordinator = FarmClient.CoordinatorOption();
        var json = FarmClient.JsonOption();
        var command = new Command("infer", """
            Run an exported model with ONNX Runtime (the CUDA execution provider with the GPU build on a GPU node, CPU
            otherwise). Image models (denoiser) write images; classifiers print labels and scores. Render models
            (hdr-denoiser) take whole .exr frames of any size: the channels the model names are read from the frame, it
            runs in overlapping tiles, and the output .exr is the input with the denoised beauty in place (other channels,
            windows, compression and attributes kept; rmtc.* provenance attributes added). The coordinator must
            know the model (an `rmtc export`): it refuses when the model's licence closure says cawg.ai_inference:
            notAllowed, and records each inference (model, input and output digests) in the run's lineage, so
            `rmtc lineage trace OUTPUT_DIGEST --up` leads back to the run and its data.
            """)
        {
            model, inputs, output, top, cpu, tile, coordinator, json,
        };
        command.SetAction((parse, ct) =>
        {
            var file = parse.GetRequiredValue(model);
            if (!file.Exists)
            {
                Console.Error.WriteLine($"error: {file.FullName}: no such file (write one with `rmtc export RUN --onnx FILE`)");
                return Task.FromResult(2);
            }

            return FarmClient.RunAsync(parse.GetRequiredValue(coordinator), channel => RunAsync(new ModelService.ModelServiceClient(channel), file,
                parse.GetRequiredValue(inputs), parse.GetValue(output), parse.GetValue(top), parse.GetValue(cpu), parse.GetValue(tile), parse.GetValue(json), ct));
        });
        return command;
    }

    private static async Task<int> RunAsync(ModelService.ModelServiceClient client, FileInfo file, FileInfo[] inputs, string? output, int top, bool cpu, int tile, bool json, CancellationToken ct)
    {
        TileLayout layout;
        try
        {
            layout = new TileLayout(tile);
        }
        catch (ArgumentException e)
        {
            await Console.Error.WriteLineAsync($"error: --tile: {e.Message}");
            return 2;
        }

        var bytes = await File.ReadAllBytesAsync(file.FullName, ct);
        var onnxDigest = Sha256Digest.OfBytes(bytes);
        OnnxProvenance provenance;
        try
        {
            provenance = OnnxExporter.ReadProvenance(bytes, file.FullName);
        }
        catch (InvalidDataException e)
        {
            await Console.Error.WriteLineAsync($"error: {e.Message}");
            return 2;
        }

        // Refused before anything runs: first by what the file says, then by what the farm recorded for its digest.
        var (allowed, _, _, reason) = InferencePermission.Check(provenance.LicenceClosure);
        if (!allowed)
        {
            await Console.Error.WriteLineAsync($"error: {reason} (run {provenance.RunId})");
            return 2;
        }

        InferencePermit permit;
        try
        {
            permit = await client.CheckInferenceAsync(new InferenceModelRequest { OnnxDigest = onnxDigest }, cancellationToken: ct);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.PermissionDenied)
        {
            await Console.Error.WriteLineAsync($"error: {e.Status.Detail}");
            return 2;
        }

        var missing = inputs.FirstOrDefault(i => !i.Exists);
        if (missing is not null)
        {
            await Console.Error.WriteLineAsync($"error: {missing.FullName}: no such input file");
            return 2;
        }

        var classifier = provenance.Classes.Count > 0;
        if (!classifier && output is null)
        {
            await Console.Error.WriteLineAsync("error: --output is needed: where to write the model's images (.png, .safetensors or .exr; a directory for several inputs)");
            return 2;
        }

        using var session = new OnnxModelSession(bytes, cpu);
        if (!json)
        {
            await Console.Error.WriteLineAsync($"model sha256:{onnxDigest[..16]} (run {permit.RunId}, {permit.Recipe}), ONNX Runtime on {session.ExecutionProvider}"
                + (permit.ConstraintInfo.Count > 0 ? $"; inference constrained: {string.Join("; ", permit.ConstraintInfo)}" : "")
                + (session.Note is null ? "" : $" ({session.Note})"));
        }

        var inputDigests = new List<string>();
        var outputDigests = new List<string>();
        var results = new JsonArray();
        foreach (var input in inputs)
        {
            if (IsExr(input.FullName))
            {
                var target = inputs.Length == 1 && !Directory.Exists(output!) ? output! : Path.Combine(output!, input.Name);
                var frame = await InferFrameAsync(session, provenance, permit, onnxDigest, input, target, layout, json);
                if (frame is null)
                {
                    return 2;
                }

                inputDigests.Add(frame.Value.InputDigest);
                outputDigests.Add(frame.Value.OutputDigest);
                results.Add(new JsonObject { ["input"] = input.FullName, ["output"] = target, ["sha256"] = frame.Value.OutputDigest, ["milliseconds"] = frame.Value.Milliseconds });
                continue;
            }

            InferenceInput tensor;
            try
            {
                tensor = InferenceInput.Read(input.FullName, provenance.SampleShape[0]);
            }
            catch (Exception e) when (e is InvalidDataException or SafetensorsFormatException)
            {
                await Console.Error.WriteLineAsync($"error: {e.Message}");
                return 2;
            }

            inputDigests.Add(Sha256Digest.OfFile(input.FullName));
            var (values, shape) = session.Run(tensor.Values, tensor.Shape);
            if (classifier)
            {
                var ranked = ClassScores.Rank(values, shape, provenance.Classes);
                for (var n = 0; n < ranked.Count; n++)
                {
                    results.Add(new JsonObject
                    {
                        ["input"] = input.FullName,
                        ["index"] = n,
                        ["scores"] = new JsonArray(ranked[n].Select(s => (JsonNode)new JsonObject { ["label"] = s.Label, ["score"] = s.Score }).ToArray()),
                    });
                    if (!json)
                    {
                        var label = ranked.Count > 1 ? $"{input.Name}[{n}]" : input.Name;
                        Console.WriteLine($"{label}: " + string.Join(", ", ranked[n].Take(Math.Max(1, top)).Select(s => string.Create(CultureInfo.InvariantCulture, $"{s.Label} {s.Score:0.0000}"))));
                    }
                }
            }
            else
            {
                var target = inputs.Length == 1 && !Directory.Exists(output!) ? output! : Path.Combine(output!, Path.GetFileNameWithoutExtension(input.Name) + ".png");
                foreach (var path in WriteImages(target, values, shape))
                {
                    outputDigests.Add(Sha256Digest.OfFile(path));
                    results.Add(new JsonObject { ["input"] = input.FullName, ["output"] = path, ["sha256"] = outputDigests[^1] });
                    if (!json)
                    {
                        Console.WriteLine($"{input.Name} -> {path} (sha256:{outputDigests[^1]})");
                    }
                }
            }
        }

        var document = new JsonObject { ["model"] = onnxDigest, ["runId"] = permit.RunId, ["executionProvider"] = session.ExecutionProvider, ["results"] = results };
        if (classifier)
        {
            // The scores are the output: their digest is of the document written (or of what --json prints).
            var text = results.ToJsonString(Indented);
            if (output is not null)
            {
                await File.WriteAllTextAsync(output, text, ct);
            }

            outputDigests.Add(Sha256Digest.OfBytes(System.Text.Encoding.UTF8.GetBytes(text)));
        }

        var request = new RecordInferenceRequest
        {
            OnnxDigest = onnxDigest,
            User = Environment.UserName,
            Host = Environment.MachineName,
            ExecutionProvider = session.ExecutionProvider,
        };
        request.InputDigests.AddRange(inputDigests);
        request.OutputDigests.AddRange(outputDigests);
        var recorded = await client.RecordInferenceAsync(request, cancellationToken: ct);
        document["outputDigests"] = new JsonArray(outputDigests.Select(d => (JsonNode)JsonValue.Create(d)).ToArray());
        document["record"] = recorded.RecordDigest;
        Console.WriteLine(json
            ? document.ToJsonString(Indented)
            : $"recorded in the lineage of run {recorded.RunId} (record sha256:{recorded.RecordDigest[..16]}); output sha256:{outputDigests[0]}");
        return 0;
    }

    private static bool IsExr(string path) => Path.GetExtension(path).Equals(".exr", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Denoises one EXR frame into <paramref name="target"/>: channels by the names the model carries, tiled, written with
    /// the input's header and the provenance attributes. Null after printing the error when it cannot.
    /// </summary>
    private static async Task<(string InputDigest, string OutputDigest, double Milliseconds)?> InferFrameAsync(
        OnnxModelSession session, OnnxProvenance provenance, InferencePermit permit, string onnxDigest, FileInfo input, string target, TileLayout layout, bool json)
    {
        if (provenance.InputChannels.Count == 0 || provenance.TargetChannels.Count == 0)
        {
            await Console.Error.WriteLineAsync($"error: {input.FullName}: the model (recipe {provenance.Recipe}) names no EXR channels, so it cannot read a frame; EXR frames need a render model such as hdr-denoiser trained on a render-pairs dataset");
            return null;
        }

        if (!IsExr(target))
        {
            await Console.Error.WriteLineAsync($"error: --output {target}: a frame is written as EXR; name a .exr file (or a directory for several inputs)");
            return null;
        }

        if (string.Equals(Path.GetFullPath(target), input.FullName, StringComparison.Ordinal))
        {
            await Console.Error.WriteLineAsync($"error: --output {target} is the input frame itself; write the denoised frame elsewhere (the render stays the source of truth in lineage)");
            return null;
        }

        ExrFrame frame;
        try
        {
            frame = ExrFrame.Read(input.FullName, provenance.InputChannels, provenance.TargetChannels);
        }
        catch (InvalidDataException e)
        {
            await Console.Error.WriteLineAsync($"error: {e.Message}");
            return null;
        }

        var inputDigest = Sha256Digest.OfFile(input.FullName);
        var clock = Stopwatch.StartNew();
        var denoised = TiledInference.Run(session.Run, frame.Values, frame.InputChannels.Count, frame.Height, frame.Width, layout);
        var milliseconds = clock.Elapsed.TotalMilliseconds;
        ExrAttribute[] stamp =
        [
            ExrAttribute.String("rmtc.run_id", permit.RunId),
            ExrAttribute.String("rmtc.model_digest", permit.ModelDigest),
            ExrAttribute.String("rmtc.onnx_digest", onnxDigest),
            ExrAttribute.String("rmtc.recipe", provenance.Recipe),
            ExrAttribute.String("rmtc.input_digest", inputDigest),
            ExrAttribute.String("rmtc.denoised_channels", string.Join(",", frame.TargetChannels)),
        ];
        try
        {
            ExrFile.Write(target, frame.WithOutput(denoised, stamp, out var note));
            if (note is not null && !json)
            {
                await Console.Error.WriteLineAsync($"note: {note}");
            }
        }
        catch (Exception e) when (e is ExrFormatException or NotSupportedException or ArgumentException or IOException or UnauthorizedAccessException)
        {
            await Console.Error.WriteLineAsync($"error: cannot write {target}: {e.Message}");
            return null;
        }

        var outputDigest = Sha256Digest.OfFile(target);
        if (!json)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{input.Name} -> {target} ({frame.Width}x{frame.Height}, {milliseconds:F0} ms; {string.Join(",", frame.TargetChannels)} denoised; sha256:{outputDigest})")
                + (frame.NonFinite > 0 ? string.Create(CultureInfo.InvariantCulture, $"; {frame.NonFinite} NaN/infinite input samples read as 0") : ""));
        }

        return (inputDigest, outputDigest, milliseconds);
    }

    /// <summary>Writes an image model's output [N, C, H, W] to <paramref name="target"/> (.png per image, or one .safetensors).</summary>
    private static IReadOnlyList<string> WriteImages(string target, float[] values, long[] shape)
    {
        if (Path.GetExtension(target).Equals(".safetensors", StringComparison.OrdinalIgnoreCase))
        {
            Safetensors.WriteFile(target, [NamedTensor.FromFloats(OnnxFormat.ImageOutputName, shape, values)]);
            return [target];
        }

        var (n, c, h, w) = ((int)shape[0], (int)shape[1], (int)shape[2], (int)shape[3]);
        var paths = new List<string>();
        for (var i = 0; i < n; i++)
        {
            var path = n == 1 ? target : Path.Combine(Path.GetDirectoryName(Path.GetFullPath(target))!, $"{Path.GetFileNameWithoutExtension(target)}-{i.ToString(CultureInfo.InvariantCulture)}.png");
            Png.WritePlanesFile(path, values.AsSpan(i * c * h * w, c * h * w), c, h, w);
            paths.Add(path);
        }

        return paths;
    }
}
