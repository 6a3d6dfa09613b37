using System.Globalization;
using Google.Protobuf;
using RMTC.Farm.Core.Weights;
using RMTC.Farm.Onnx.Protos;

namespace RMTC.Farm.Onnx.Graph;

/// <summary>
/// Builds one ONNX graph from a recipe's weights: inputs, the standard operators our recipes use (opset
/// <see cref="OnnxFormat.Opset"/>), weights as initializers, outputs. Shapes are tracked as nodes are added so a
/// description that does not fit its weights fails here, naming the tensor, rather than at inference.
/// </summary>
/// <remarks>
/// A recipe's graph description (<see cref="IRecipeGraph"/>) is a few calls on this builder; every weight must be used
/// exactly once (an unused weight means the description and the recipe disagree).
/// </remarks>
public sealed class OnnxGraphBuilder
{
    private readonly GraphProto _graph;
    private readonly IReadOnlyDictionary<string, NamedTensor> _weights;
    private readonly Dictionary<string, OnnxValue> _added = new(StringComparer.Ordinal);
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private int _next;

    /// <summary>A builder for graph <paramref name="name"/> over these weights (F32, named as in the recipe's state dict).</summary>
    public OnnxGraphBuilder(string name, IReadOnlyList<NamedTensor> weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        _graph = new GraphProto { Name = name };
        var byName = new Dictionary<string, NamedTensor>(StringComparer.Ordinal);
        foreach (var w in weights)
        {
            if (!byName.TryAdd(w.Name, w))
            {
                throw new OnnxExportException($"weights: tensor '{w.Name}' appears twice");
            }
        }

        _weights = byName;
    }

    /// <summary>Adds a float32 graph input.</summary>
    public OnnxValue Input(string name, params OnnxDim[] shape)
    {
        Claim(name);
        _graph.Input.Add(ValueInfo(name, shape));
        return new OnnxValue(name, shape);
    }

    /// <summary>Declares <paramref name="value"/> a graph output under <paramref name="name"/> (an Identity renames it when needed).</summary>
    public OnnxValue Output(OnnxValue value, string name)
    {
        if (value.Name != name)
        {
            Claim(name);
            _graph.Node.Add(Node("Identity", name, [value.Name], [name]));
            value = value with { Name = name };
        }

        _graph.Output.Add(ValueInfo(value.Name, value.Shape));
        return value;
    }

    /// <summary>A weight of the recipe as an initializer (added once, however often it is used).</summary>
    public OnnxValue Weight(string name, int rank)
    {
        if (_added.TryGetValue(name, out var known))
        {
            return known;
        }

        if (!_weights.TryGetValue(name, out var tensor))
        {
            throw new OnnxExportException($"weights: the graph needs tensor '{name}', which the model does not have (it has {string.Join(", ", _weights.Keys.Order(StringComparer.Ordinal))})");
        }

        if (tensor.DType != TensorDType.F32 || tensor.Shape.Length != rank)
        {
            throw new OnnxExportException($"weights: tensor '{name}' is {tensor}, the graph needs an F32 tensor of rank {rank}");
        }

        Claim(name);
        var proto = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float, RawData = ByteString.CopyFrom(tensor.Data) };
        proto.Dims.AddRange(tensor.Shape);
        _graph.Initializer.Add(proto);
        var value = new OnnxValue(name, tensor.Shape.Select(OnnxDim.Fixed).ToArray());
        _added[name] = value;
        return value;
    }

    /// <summary>
    /// 2-D convolution with the weight <c>{prefix}.weight</c> [out, in, kh, kw] and bias <c>{prefix}.bias</c>, square
    /// zero padding <paramref name="pad"/> and stride <paramref name="stride"/> (PyTorch's nn.Conv2d).
    /// </summary>
    public OnnxValue Conv(OnnxValue x, string prefix, int pad = 0, int stride = 1) => Conv(x, prefix, pad, stride, dilation: 1);

    /// <summary>As <see cref="Conv(OnnxValue, string, int, int)"/> with the kernel's taps <paramref name="dilation"/> pixels apart (nn.Conv2d's dilation).</summary>
    public OnnxValue Conv(OnnxValue x, string prefix, int pad, int stride, int dilation)
    {
        RequireRank(x, 4, "Conv");
        var w = Weight(prefix + ".weight", 4);
        var b = Weight(prefix + ".bias", 1);
        if (!x.Shape[1].IsDynamic && x.Shape[1].Value != w.Shape[1].Value)
        {
            throw new OnnxExportException($"Conv {prefix}: input has {x.Shape[1]} channels but {prefix}.weight expects {w.Shape[1]}");
        }

        var kh = w.Shape[2].Value;
        var kw = w.Shape[3].Value;
        // A dilated kernel covers (k - 1) * dilation + 1 pixels.
        var shape = new[] { x.Shape[0], w.Shape[0], Window(x.Shape[2], ((kh - 1) * dilation) + 1, pad, stride), Window(x.Shape[3], ((kw - 1) * dilation) + 1, pad, stride) };
        return Add("Conv", prefix, [x.Name, w.Name, b.Name], shape,
            Ints("dilations", dilation, dilation), Int("group", 1), Ints("kernel_shape", kh, kw), Ints("pads", pad, pad, pad, pad), Ints("strides", stride, stride));
    }

    /// <summary>Rectified linear unit.</summary>
    public OnnxValue Relu(OnnxValue x) => Add("Relu", null, [x.Name], x.Shape);

    /// <summary>Max pooling over <paramref name="kernel"/>×<paramref name="kernel"/> windows, stride = kernel unless given, no padding, floor (PyTorch's max_pool2d).</summary>
    public OnnxValue MaxPool(OnnxValue x, int kernel, int? stride = null)
    {
        RequireRank(x, 4, "MaxPool");
        var s = stride ?? kernel;
        var shape = new[] { x.Shape[0], x.Shape[1], Window(x.Shape[2], kernel, 0, s), Window(x.Shape[3], kernel, 0, s) };
        return Add("MaxPool", null, [x.Name], shape, Ints("kernel_shape", kernel, kernel), Ints("strides", s, s), Ints("pads", 0, 0, 0, 0), Int("ceil_mode", 0));
    }

    /// <summary>Mean over the spatial dimensions, kept as [N, C, 1, 1] (a model's <c>x.mean([2, 3])</c> is this plus <see cref="Flatten"/>).</summary>
    public OnnxValue GlobalAveragePool(OnnxValue x)
    {
        RequireRank(x, 4, "GlobalAveragePool");
        return Add("GlobalAveragePool", null, [x.Name], [x.Shape[0], x.Shape[1], OnnxDim.Fixed(1), OnnxDim.Fixed(1)]);
    }

    /// <summary>Mean over <paramref name="axes"/> (ReduceMean-18 takes axes as an input; opset 17 keeps them an attribute).</summary>
    public OnnxValue ReduceMean(OnnxValue x, long[] axes, bool keepDims)
    {
        var normal = axes.Select(a => a < 0 ? a + x.Rank : a).ToHashSet();
        var shape = x.Shape.Select((d, i) => normal.Contains(i) ? (keepDims ? OnnxDim.Fixed(1) : (OnnxDim?)null) : d).OfType<OnnxDim>().ToArray();
        return Add("ReduceMean", null, [x.Name], shape, Ints("axes", axes), Int("keepdims", keepDims ? 1 : 0));
    }

    /// <summary>Flattens to [N, rest] (PyTorch's <c>x.flatten(1)</c>, row-major like a contiguous view).</summary>
    public OnnxValue Flatten(OnnxValue x, int axis = 1)
    {
        var outer = x.Shape.Take(axis).ToList();
        var inner = x.Shape.Skip(axis).ToList();
        var first = axis == 0 ? OnnxDim.Fixed(1) : outer.Count == 1 ? outer[0] : Product(outer, "outer");
        return Add("Flatten", null, [x.Name], [first, Product(inner, "features")], Int("axis", axis));
    }

    /// <summary>
    /// Fully connected layer with <c>{prefix}.weight</c> [out, in] and <c>{prefix}.bias</c> [out]: Gemm(x, W, b, transB=1),
    /// which is PyTorch's nn.Linear. The input's feature size must be fixed and match <c>in</c>.
    /// </summary>
    public OnnxValue Linear(OnnxValue x, string prefix)
    {
        RequireRank(x, 2, "Gemm");
        var w = Weight(prefix + ".weight", 2);
        var b = Weight(prefix + ".bias", 1);
        if (x.Shape[1].IsDynamic)
        {
            throw new OnnxExportException($"Gemm {prefix}: the input's feature size is dynamic ({x.Shape[1]}); a linear layer needs a fixed size (give the sample shape)");
        }

        if (x.Shape[1].Value != w.Shape[1].Value)
        {
            throw new OnnxExportException($"Gemm {prefix}: the input has {x.Shape[1]} features but {prefix}.weight expects {w.Shape[1]} (is the sample shape right?)");
        }

        return Add("Gemm", prefix, [x.Name, w.Name, b.Name], [x.Shape[0], w.Shape[0]], Float("alpha", 1f), Float("beta", 1f), Int("transA", 0), Int("transB", 1));
    }

    /// <summary>
    /// Channels [<paramref name="start"/>, <paramref name="end"/>) along <paramref name="axis"/> (PyTorch's
    /// <c>x.narrow(axis, start, end - start)</c>); the axis must have a fixed size.
    /// </summary>
    public OnnxValue Slice(OnnxValue x, int axis, long start, long end)
    {
        if (x.Shape[axis].IsDynamic || start < 0 || end > x.Shape[axis].Value || start >= end)
        {
            throw new OnnxExportException($"Slice: [{start}, {end}) does not fit axis {axis} of '{x.Name}' ({x.Shape[axis]})");
        }

        var shape = x.Shape.ToArray();
        shape[axis] = OnnxDim.Fixed(end - start);
        return Add("Slice", null, [x.Name, Constant([start]).Name, Constant([end]).Name, Constant([(long)axis]).Name], shape);
    }

    /// <summary>Joins values along <paramref name="axis"/> (PyTorch's <c>torch.cat</c>); the other dimensions must agree.</summary>
    public OnnxValue Concat(int axis, params OnnxValue[] values)
    {
        if (values.Length == 0 || values.Any(v => v.Rank != values[0].Rank))
        {
            throw new OnnxExportException("Concat: needs at least one value, all of one rank");
        }

        var shape = values[0].Shape.ToArray();
        shape[axis] = values.Any(v => v.Shape[axis].IsDynamic)
            ? OnnxDim.Dynamic("concat")
            : OnnxDim.Fixed(values.Sum(v => v.Shape[axis].Value));
        return Add("Concat", null, values.Select(v => v.Name).ToArray(), shape, Int("axis", axis));
    }

    /// <summary>Natural logarithm, element-wise.</summary>
    public OnnxValue Log(OnnxValue x) => Add("Log", null, [x.Name], x.Shape);

    /// <summary>e to the power of each element.</summary>
    public OnnxValue Exp(OnnxValue x) => Add("Exp", null, [x.Name], x.Shape);

    /// <summary>A float32 scalar, as a Constant node (initializers are the weights alone), for broadcasting in Add and Sub.</summary>
    public OnnxValue Constant(float value)
    {
        var proto = new TensorProto { DataType = (int)TensorProto.Types.DataType.Float };
        proto.FloatData.Add(value);
        return ConstantNode(proto, []);
    }

    /// <summary>An int64 vector as a Constant node (Slice's starts, ends and axes).</summary>
    public OnnxValue Constant(long[] values)
    {
        var proto = new TensorProto { DataType = (int)TensorProto.Types.DataType.Int64 };
        proto.Dims.Add(values.Length);
        proto.Int64Data.AddRange(values);
        return ConstantNode(proto, [OnnxDim.Fixed(values.Length)]);
    }

    /// <summary>Element-wise <paramref name="a"/> − <paramref name="b"/> (same shapes, or NumPy broadcasting).</summary>
    public OnnxValue Sub(OnnxValue a, OnnxValue b) => Add("Sub", null, [a.Name, b.Name], a.Shape);

    /// <summary>Element-wise <paramref name="a"/> + <paramref name="b"/> (same shapes, or NumPy broadcasting).</summary>
    public OnnxValue Add(OnnxValue a, OnnxValue b) => Add("Add", null, [a.Name, b.Name], a.Shape);

    /// <summary>The finished graph; throws when a weight was never used.</summary>
    public GraphProto Build()
    {
        var unused = _weights.Keys.Where(k => !_added.ContainsKey(k)).Order(StringComparer.Ordinal).ToList();
        if (unused.Count > 0)
        {
            throw new OnnxExportException($"weights: the graph does not use {string.Join(", ", unused)}; the recipe's graph description and its model disagree");
        }

        if (_graph.Output.Count == 0)
        {
            throw new OnnxExportException($"graph {_graph.Name}: no output declared");
        }

        return _graph;
    }

    private OnnxValue Add(string op, string? name, string[] inputs, IReadOnlyList<OnnxDim> shape, params AttributeProto[] attributes)
    {
        var nodeName = name ?? $"{op.ToLowerInvariant()}_{_next.ToString(CultureInfo.InvariantCulture)}";
        var output = $"{nodeName}_out";
        while (_names.Contains(output))
        {
            output = $"{nodeName}_out{(++_next).ToString(CultureInfo.InvariantCulture)}";
        }

        _next++;
        Claim(output);
        _graph.Node.Add(Node(op, nodeName, inputs, [output], attributes));
        return new OnnxValue(output, shape);
    }

    private OnnxValue ConstantNode(TensorProto value, OnnxDim[] shape) =>
        Add("Constant", null, [], shape, new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = value });

    private void Claim(string name)
    {
        if (!_names.Add(name))
        {
            throw new OnnxExportException($"graph {_graph.Name}: the name '{name}' is used twice");
        }
    }

    private static NodeProto Node(string op, string name, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = op, Name = name };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        return node;
    }

    private static ValueInfoProto ValueInfo(string name, IReadOnlyList<OnnxDim> shape)
    {
        var tensorShape = new TensorShapeProto();
        foreach (var d in shape)
        {
            tensorShape.Dim.Add(d.IsDynamic ? new TensorShapeProto.Types.Dimension { DimParam = d.Param } : new TensorShapeProto.Types.Dimension { DimValue = d.Value });
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = tensorShape } },
        };
    }

    private static void RequireRank(OnnxValue x, int rank, string op)
    {
        if (x.Rank != rank)
        {
            throw new OnnxExportException($"{op}: input '{x.Name}' has rank {x.Rank}, needs {rank}");
        }
    }

    // Output size of a window op along one axis (floor mode); a dynamic size that the op keeps stays the same name.
    private static OnnxDim Window(OnnxDim size, long kernel, long pad, long stride)
    {
        if (size.IsDynamic)
        {
            return kernel == 2 * pad + 1 && stride == 1 ? size : OnnxDim.Dynamic($"{size.Param}_{kernel}s{stride}p{pad}");
        }

        var result = (size.Value + 2 * pad - kernel) / stride + 1;
        return result > 0 ? OnnxDim.Fixed(result) : throw new OnnxExportException($"a {kernel}x{kernel} window with stride {stride} and padding {pad} does not fit a size of {size.Value}");
    }

    private static OnnxDim Product(IReadOnlyList<OnnxDim> dims, string name) =>
        dims.Any(d => d.IsDynamic) ? OnnxDim.Dynamic(name) : OnnxDim.Fixed(dims.Aggregate(1L, (p, d) => p * d.Value));

    private static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    private static AttributeProto Float(string name, float value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    private static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }
}
