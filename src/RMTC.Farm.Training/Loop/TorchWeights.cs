using System.Runtime.InteropServices;
using RMTC.Farm.Core.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace RMTC.Farm.Training.Loop;

/// <summary>
/// The one mapping between a TorchSharp module's state_dict and <see cref="NamedTensor"/>s: F32, named by the
/// state_dict keys (e.g. <c>conv1.weight</c>), listed in ordinal order of the names. Integer entries (BatchNorm's
/// <c>num_batches_tracked</c> in a TorchScript model) stay I64, so a counter is never rounded through a float.
/// </summary>
public static class TorchWeights
{
    /// <summary>
    /// Copies every state_dict entry to CPU as an F32 <see cref="NamedTensor"/> (I64 for integer entries), ordered
    /// ordinally by name.
    /// </summary>
    public static IReadOnlyList<NamedTensor> Export(nn.Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        using var scope = NewDisposeScope();
        var result = new List<NamedTensor>();
        foreach (var (name, value) in module.state_dict().OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            if (IsInteger(value.dtype))
            {
                var longs = value.detach().to(ScalarType.Int64, CPU).contiguous();
                var bytes = MemoryMarshal.AsBytes(longs.data<long>().ToArray().AsSpan()).ToArray();
                result.Add(new NamedTensor(name, TensorDType.I64, longs.shape, bytes));
                continue;
            }

            var cpu = value.detach().to(ScalarType.Float32, CPU).contiguous();
            var floats = cpu.data<float>().ToArray();
            result.Add(NamedTensor.FromFloats(name, cpu.shape, floats));
        }

        return result;
    }

    /// <summary>
    /// Copies <paramref name="tensors"/> into the module's state_dict by name (under no_grad). Refuses, before copying
    /// anything, missing or unexpected names, shape mismatches and non-F32 tensors with <see cref="WeightsMismatchException"/>.
    /// </summary>
    public static void Load(nn.Module module, IReadOnlyList<NamedTensor> tensors, string source = "weights")
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(tensors);
        var state = module.state_dict();
        var given = new Dictionary<string, NamedTensor>(StringComparer.Ordinal);
        foreach (var t in tensors)
        {
            if (!given.TryAdd(t.Name, t))
            {
                throw new WeightsMismatchException($"{source}: tensor '{t.Name}' appears twice");
            }
        }

        var missing = state.Keys.Where(k => !given.ContainsKey(k)).Order(StringComparer.Ordinal).ToList();
        var unexpected = given.Keys.Where(k => !state.ContainsKey(k)).Order(StringComparer.Ordinal).ToList();
        if (missing.Count > 0 || unexpected.Count > 0)
        {
            var parts = new List<string>();
            if (missing.Count > 0)
            {
                parts.Add("missing " + string.Join(", ", missing));
            }

            if (unexpected.Count > 0)
            {
                parts.Add("unexpected " + string.Join(", ", unexpected));
            }

            throw new WeightsMismatchException(
                $"{source} do not match the model ({string.Join("; ", parts)}); expected names: {string.Join(", ", state.Keys.Order(StringComparer.Ordinal))}");
        }

        foreach (var (name, target) in state)
        {
            var t = given[name];
            var expected = IsInteger(target.dtype) ? TensorDType.I64 : TensorDType.F32;
            if (t.DType != expected)
            {
                throw new WeightsMismatchException($"{source}: tensor '{name}' is {t.DType}, expected {expected}");
            }

            if (!t.Shape.AsSpan().SequenceEqual(target.shape))
            {
                throw new WeightsMismatchException(
                    $"{source}: tensor '{name}' has shape [{string.Join(", ", t.Shape)}], the model needs [{string.Join(", ", target.shape)}]");
            }
        }

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (var (name, target) in state)
        {
            var t = given[name];
            var value = t.DType == TensorDType.I64
                ? tensor(MemoryMarshal.Cast<byte, long>(t.Data).ToArray(), t.Shape, ScalarType.Int64)
                : tensor(MemoryMarshal.Cast<byte, float>(t.Data).ToArray(), t.Shape, ScalarType.Float32);
            target.copy_(value);
        }
    }

    /// <summary>
    /// The names of the module's floating-point buffers (BatchNorm's <c>running_mean</c> and <c>running_var</c>), ordered
    /// ordinally: state that training computes rather than learns, which a merge averages but must not extrapolate.
    /// </summary>
    public static IReadOnlyList<string> FloatBuffers(nn.Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        using var scope = NewDisposeScope();
        return module.named_buffers().Where(b => !IsInteger(b.buffer.dtype)).Select(b => b.name).Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>Whether a state entry of this dtype is exchanged as I64 rather than F32.</summary>
    internal static bool IsInteger(ScalarType dtype) =>
        dtype is ScalarType.Int64 or ScalarType.Int32 or ScalarType.Int16 or ScalarType.Int8 or ScalarType.Byte;
}
