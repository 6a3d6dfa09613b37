using Google.Protobuf;
using RMTC.Farm.Core.Weights;
using RMTC.Farm.Onnx.Graph;
using RMTC.Farm.Onnx.Protos;

namespace RMTC.Farm.Onnx.Export;

/// <summary>
/// The ONNX export of a TorchScript model: the TD's template (exported by <c>torch.onnx.export</c> from the same PyTorch
/// module) with its initializers replaced by the trained state and the provenance in <c>metadata_props</c>. The graph is
/// the template's; only weights, BatchNorm's training switch and the header change.
/// </summary>
/// <remarks>
/// Every state tensor must land in the graph and every float initializer must come from the state, so a template that
/// does not fit the model is refused rather than exported with stale weights. Three things the exporter does to names are
/// dealt with: an initializer de-duplicated into <c>Identity(other)</c> (a fresh BatchNorm's <c>running_var</c> equals its
/// <c>weight</c>) is untied into its own initializer; an initializer renamed (<c>onnx::Conv_16</c>) is matched to the one
/// state tensor whose initial value it holds; folded weights (BatchNorm folded into a convolution) match nothing and are
/// refused by name, with the export flags that avoid them.
/// </remarks>
public static class OnnxTemplateFiller
{
    /// <summary>How a TD makes a template that can be filled, quoted by every refusal and by an export without one.</summary>
    public const string HowToMakeTemplate =
        "export the same PyTorch module with torch.onnx.export(model, sample, path, "
        + "training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False, input_names=[\"input\"], "
        + "dynamic_axes={\"input\": {0: \"batch\"}}) and name it as model.onnx_template in the job spec: PRESERVE keeps "
        + "BatchNorm as its own node and do_constant_folding=False stops the exporter folding it into the convolution, so "
        + "every initializer keeps its state_dict name and the trained weights can be put back (farm/models/README.md)";

    /// <summary>
    /// State entries that are legitimately absent from an inference graph: BatchNorm's batch counter only steers the
    /// running-average momentum during training.
    /// </summary>
    public static bool IsDerivedStateEntry(NamedTensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        return tensor.DType == TensorDType.I64 && tensor.Name.EndsWith("num_batches_tracked", StringComparison.Ordinal);
    }

    /// <summary>
    /// The template <paramref name="template"/> (ONNX bytes) filled with <paramref name="state"/> (the trained
    /// state_dict, F32 with I64 counters), with <paramref name="provenance"/> in its metadata. <paramref name="initialState"/>
    /// (the module's state as saved, from which the template was exported) lets renamed initializers be matched by value;
    /// without it they are refused. Throws <see cref="OnnxExportException"/> naming every tensor that does not fit.
    /// </summary>
    public static ModelProto Fill(
        byte[] template,
        IReadOnlyList<NamedTensor> state,
        OnnxProvenance provenance,
        IReadOnlyList<NamedTensor>? initialState = null,
        string source = "ONNX template")
    {
        ArgumentNullException.ThrowIfNull(template);
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(provenance);
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(template);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new OnnxExportException($"{source} is not an ONNX model ({e.Message}); {HowToMakeTemplate}");
        }

        if (model.Graph is not { } graph || graph.Node.Count == 0)
        {
            throw new OnnxExportException($"{source} has no graph; {HowToMakeTemplate}");
        }

        var stateByName = new Dictionary<string, NamedTensor>(StringComparer.Ordinal);
        foreach (var t in state)
        {
            if (!stateByName.TryAdd(t.Name, t))
            {
                throw new OnnxExportException($"the trained state names '{t.Name}' twice");
            }
        }

        var initializers = graph.Initializer.ToDictionary(i => i.Name, StringComparer.Ordinal);
        var problems = new List<string>();
        var placed = new HashSet<string>(StringComparer.Ordinal);

        // Initializers named like a state entry take its trained value.
        foreach (var init in graph.Initializer)
        {
            if (stateByName.TryGetValue(init.Name, out var trained))
            {
                Put(init, trained, problems, source);
                placed.Add(trained.Name);
            }
        }

        // De-duplicated entries: Identity(kept) whose output is a state name becomes that entry's own initializer again.
        for (var i = graph.Node.Count - 1; i >= 0; i--)
        {
            var node = graph.Node[i];
            if (node.OpType != "Identity" || node.Input.Count != 1 || node.Output.Count != 1
                || !initializers.ContainsKey(node.Input[0]) || !stateByName.TryGetValue(node.Output[0], out var tied)
                || placed.Contains(tied.Name))
            {
                continue;
            }

            var own = new TensorProto { Name = tied.Name, DataType = initializers[node.Input[0]].DataType };
            own.Dims.Add(initializers[node.Input[0]].Dims);
            Put(own, tied, problems, source);
            graph.Node.RemoveAt(i);
            graph.Initializer.Add(own);
            initializers[own.Name] = own;
            placed.Add(tied.Name);
        }

        // Renamed initializers: the one unplaced state entry whose initial value the template holds.
        var unmatched = graph.Initializer.Where(init => !stateByName.ContainsKey(init.Name) && IsFloat(init)).ToList();
        if (unmatched.Count > 0 && initialState is not null)
        {
            var initialByName = initialState.ToDictionary(t => t.Name, StringComparer.Ordinal);
            foreach (var init in unmatched.ToList())
            {
                var bytes = FloatBytes(init);
                var candidates = stateByName.Values
                    .Where(t => !placed.Contains(t.Name) && t.DType == TensorDType.F32 && initialByName.TryGetValue(t.Name, out var first)
                        && first.Shape.AsSpan().SequenceEqual(init.Dims.ToArray()) && first.Data.AsSpan().SequenceEqual(bytes))
                    .Select(t => t.Name)
                    .ToList();
                if (candidates.Count == 1)
                {
                    Put(init, stateByName[candidates[0]], problems, source);
                    init.Name = Rename(graph, init.Name, candidates[0]);
                    placed.Add(candidates[0]);
                    unmatched.Remove(init);
                }
                else if (candidates.Count > 1)
                {
                    problems.Add($"initializer '{init.Name}' holds the initial value of {string.Join(", ", candidates.Select(c => $"'{c}'"))} alike, so which one it is cannot be told");
                    unmatched.Remove(init);
                }
            }
        }

        foreach (var init in unmatched)
        {
            problems.Add($"initializer '{init.Name}' [{string.Join(", ", init.Dims)}] is no state tensor (folded or renamed by the exporter)");
        }

        foreach (var t in state.Where(t => !placed.Contains(t.Name) && !IsDerivedStateEntry(t)).OrderBy(t => t.Name, StringComparer.Ordinal))
        {
            problems.Add($"state tensor '{t.Name}' [{string.Join(", ", t.Shape)}] has no initializer in the template");
        }

        if (problems.Count > 0)
        {
            throw new OnnxExportException($"{source} does not fit the trained model: {string.Join("; ", problems)}. To make a template that does, {HowToMakeTemplate}");
        }

        ToInference(graph, source);

        model.ProducerName = OnnxFormat.ProducerName;
        model.ProducerVersion = provenance.RmtcVersion;
        model.DocString = $"Exported from safetensors sha256:{provenance.ModelDigest} into a torch.onnx.export template; provenance in metadata_props (rmtc.*).";
        graph.DocString = $"RMTC.Farm TorchScript model trained by run {provenance.RunId}";
        var keep = model.MetadataProps.Where(p => !p.Key.StartsWith("rmtc.", StringComparison.Ordinal)).ToList();
        model.MetadataProps.Clear();
        model.MetadataProps.Add(keep);
        foreach (var (key, value) in OnnxExporter.Metadata(provenance))
        {
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        }

        return model;
    }

    private static void Put(TensorProto init, NamedTensor trained, List<string> problems, string source)
    {
        if (trained.DType != TensorDType.F32 || init.DataType != (int)TensorProto.Types.DataType.Float)
        {
            problems.Add($"state tensor '{trained.Name}' is {trained.DType} but {source}'s initializer is ONNX type {init.DataType}; only float32 weights are exported");
            return;
        }

        if (!init.Dims.SequenceEqual(trained.Shape))
        {
            problems.Add($"state tensor '{trained.Name}' has shape [{string.Join(", ", trained.Shape)}], the template's initializer [{string.Join(", ", init.Dims)}]");
            return;
        }

        init.FloatData.Clear();
        init.RawData = ByteString.CopyFrom(trained.Data);
    }

    private static bool IsFloat(TensorProto init) => init.DataType == (int)TensorProto.Types.DataType.Float;

    private static byte[] FloatBytes(TensorProto init)
    {
        if (!init.RawData.IsEmpty)
        {
            return init.RawData.ToByteArray();
        }

        var bytes = new byte[init.FloatData.Count * sizeof(float)];
        for (var i = 0; i < init.FloatData.Count; i++)
        {
            BitConverter.TryWriteBytes(bytes.AsSpan(i * sizeof(float)), init.FloatData[i]);
        }

        return bytes;
    }

    /// <summary>Renames a value everywhere the graph uses it (unless the new name is taken), returning the name it ends with.</summary>
    private static string Rename(GraphProto graph, string from, string to)
    {
        var taken = graph.Node.Any(n => n.Output.Contains(to)) || graph.Initializer.Any(i => i.Name == to) || graph.Input.Any(i => i.Name == to);
        if (taken)
        {
            return from;
        }

        foreach (var node in graph.Node)
        {
            for (var k = 0; k < node.Input.Count; k++)
            {
                if (node.Input[k] == from)
                {
                    node.Input[k] = to;
                }
            }
        }

        return to;
    }

    /// <summary>
    /// A template exported from a module in training mode has BatchNormalization nodes with <c>training_mode = 1</c>,
    /// which normalise by the batch's own statistics and also output updated running statistics. The export is for
    /// inference (the TorchScript module's eval forward), so they are switched to the running statistics the state holds.
    /// </summary>
    private static void ToInference(GraphProto graph, string source)
    {
        var used = new HashSet<string>(graph.Node.SelectMany(n => n.Input).Concat(graph.Output.Select(o => o.Name)), StringComparer.Ordinal);
        foreach (var node in graph.Node.Where(n => n.OpType == "BatchNormalization"))
        {
            var mode = node.Attribute.FirstOrDefault(a => a.Name == "training_mode");
            if (mode is null || mode.I == 0)
            {
                continue;
            }

            var extra = node.Output.Skip(1).Where(o => o.Length > 0 && used.Contains(o)).ToList();
            if (extra.Count > 0)
            {
                throw new OnnxExportException(
                    $"{source}: BatchNormalization node '{node.Name}' is in training mode and its running statistics {string.Join(", ", extra)} feed the graph; export the template from the module in eval() mode");
            }

            mode.I = 0;
            var dropped = node.Output.Skip(1).ToHashSet(StringComparer.Ordinal);
            while (node.Output.Count > 1)
            {
                node.Output.RemoveAt(node.Output.Count - 1);
            }

            foreach (var info in graph.ValueInfo.Where(v => dropped.Contains(v.Name)).ToList())
            {
                graph.ValueInfo.Remove(info);
            }
        }
    }
}
