using System.Buffers;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using System.Text;
using RMTC.Farm.Core.Weights;

namespace RMTC.Farm.Core.Merging;

/// <summary>
/// Streaming federated averaging: folds each result into a running sample-weighted sum as it arrives,
/// so memory stays at one model plus the tensor in flight, whatever the number of shards.
/// </summary>
/// <remarks>
/// Not thread-safe: callers serialise <see cref="Add(Stream,double)"/> and <see cref="Finish"/>.
/// Sums are float32, folded as sum + x·w (no fused multiply-add; the first result as 0 + x·w), so the average is
/// bit-identical on every machine for the same inputs in the same order.
/// Integer tensors (I64, such as BatchNorm's <c>num_batches_tracked</c>) are counters, not weights: averaging them would
/// invent fractional counts, so the merge keeps their element-wise maximum over the results (the most batches any shard
/// has seen). The maximum does not depend on the order results arrive in, and a round of one result returns it unchanged.
/// </remarks>
public sealed class FedAvgAccumulator
{
    /// <summary>Bytes read from a stream per chunk (a multiple of 4; small enough to stay in L2).</summary>
    internal const int ChunkBytes = 256 * 1024;

    /// <summary>Bytes of a stored result mapped at once by <see cref="AddPrechecked(Stream, double)"/> (a multiple of 4).</summary>
    internal const long MappedWindowBytes = 64L * 1024 * 1024;

    private readonly string[] _names;
    private readonly long[][] _shapes;
    private readonly TensorDType[] _dtypes;
    private readonly Dictionary<string, int> _index;
    // Running sums as raw little-endian float32 bytes, so that Finish can hand them out without a copy.
    private readonly byte[]?[] _sums;
    private int _count;
    private double _totalWeight;
    private bool _finished;
    private bool _broken;

    /// <summary>Creates an empty accumulator whose results must match <paramref name="template"/> (names, dtypes F32 or I64, shapes).</summary>
    /// <param name="template">Names, dtypes and shapes every result must have.</param>
    /// <param name="recycle">
    /// Tensors whose arrays the caller no longer needs (the previous round's average): a tensor with a template name and
    /// the same byte length lends its array to the sum. Touching fresh pages of a large model costs more than the
    /// merge itself on many machines; the first result overwrites whatever the array held.
    /// </param>
    /// <exception cref="ArgumentException">A template tensor is neither F32 nor I64, or too large for one array.</exception>
    public FedAvgAccumulator(SafetensorsHeader template, IReadOnlyList<NamedTensor>? recycle = null)
    {
        ArgumentNullException.ThrowIfNull(template);
        var tensors = template.Tensors;
        _names = new string[tensors.Count];
        _shapes = new long[tensors.Count][];
        _dtypes = new TensorDType[tensors.Count];
        _sums = new byte[tensors.Count][];
        _index = new Dictionary<string, int>(tensors.Count, StringComparer.Ordinal);
        for (int i = 0; i < tensors.Count; i++)
        {
            var t = tensors[i];
            if (t.DType is not (TensorDType.F32 or TensorDType.I64))
            {
                throw new ArgumentException($"template tensor '{t.Name}' is {t.DType.ToHeaderString()}: only F32 weights (averaged) and I64 counters (maximum) can be merged", nameof(template));
            }

            if (!_index.TryAdd(t.Name, i))
            {
                throw new ArgumentException($"template has duplicate tensor name '{t.Name}'", nameof(template));
            }

            long elements = NamedTensor.ComputeElementCount(t.Shape, t.Name);
            long bytes = elements * t.DType.SizeInBytes();
            if (bytes > Array.MaxLength)
            {
                throw new ArgumentException($"template tensor '{t.Name}' ({bytes} bytes) is too large for one array", nameof(template));
            }

            _names[i] = t.Name;
            _shapes[i] = (long[])t.Shape.Clone();
            _dtypes[i] = t.DType;
            // The first fold assigns every element (results must hold every template tensor), so no zeroing is needed.
            _sums[i] = bytes == 0 ? Array.Empty<byte>() : GC.AllocateUninitializedArray<byte>((int)bytes);
        }

        if (recycle is not null)
        {
            foreach (var old in recycle)
            {
                if (old is not null && _index.TryGetValue(old.Name, out int i) && old.Data.Length == _sums[i]!.Length && old.Data.Length > 0)
                {
                    _sums[i] = old.Data;
                }
            }
        }
    }

    /// <summary>Results folded so far.</summary>
    public int Count => _count;

    /// <summary>Sum of weights (sample counts) folded so far.</summary>
    public double TotalWeight => _totalWeight;

    /// <summary>
    /// Validates the whole safetensors result in <paramref name="seekableResult"/> (names, shapes, dtypes, all values finite) and only then
    /// folds it in with <paramref name="weight"/> (its sample count, &gt; 0). Throws <see cref="WeightsRejectedException"/> and leaves the sum untouched when invalid.
    /// </summary>
    /// <remarks>
    /// The file is read from the stream's current position. Two passes (validate, then fold) through one pooled chunk buffer;
    /// a <see cref="MemoryStream"/> whose buffer is exposed is read in place.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="weight"/> is not finite and positive.</exception>
    /// <exception cref="ArgumentException">The stream cannot read or seek.</exception>
    /// <exception cref="InvalidOperationException">After <see cref="Finish"/>, or after an I/O failure in the middle of a fold.</exception>
    public void Add(Stream seekableResult, double weight)
    {
        ArgumentNullException.ThrowIfNull(seekableResult);
        ThrowIfUnusable();
        ValidateWeight(weight);
        var (header, map, dataStart) = ReadCheckedHeader(seekableResult);
        var entries = header.Tensors;
        if (seekableResult is MemoryStream ms && ms.TryGetBuffer(out var segment))
        {
            AddInPlace(segment.AsSpan(0, (int)ms.Length), dataStart, entries, map, weight);
            ms.Position = dataStart + header.DataLength;
            return;
        }

        byte[] buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        try
        {
            // Pass 1: every value finite.
            CheckFinite(seekableResult, dataStart, entries, buffer);

            // Pass 2: fold. From here on a failure would leave a partial sum behind.
            _broken = true;
            float w = (float)weight;
            seekableResult.Seek(dataStart, SeekOrigin.Begin);
            for (int t = 0; t < entries.Count; t++)
            {
                var e = entries[t];
                var sum = _sums[map[t]].AsSpan();
                long remaining = e.End - e.Begin;
                int at = 0;
                while (remaining > 0)
                {
                    int n = (int)Math.Min(remaining, ChunkBytes);
                    seekableResult.ReadExactly(buffer, 0, n);
                    FoldBytes(e.DType, sum.Slice(at, n), buffer.AsSpan(0, n), w);
                    at += n;
                    remaining -= n;
                }
            }

            _broken = false;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        _count++;
        _totalWeight += weight;
    }

    /// <summary>
    /// Checks a result as <see cref="Add(Stream,double)"/> would (names, shapes and dtypes against the template; every
    /// value finite unless <paramref name="valuesChecked"/>) without folding it: for a result folded later, in shard
    /// order (<see cref="ShardOrderedFold"/>), with <see cref="AddPrechecked(Stream,double)"/>.
    /// </summary>
    /// <exception cref="WeightsRejectedException">The result is malformed, does not match the model, or holds a non-finite value.</exception>
    /// <exception cref="ArgumentException">The stream cannot read or seek.</exception>
    public void Check(Stream seekableResult, bool valuesChecked)
    {
        ArgumentNullException.ThrowIfNull(seekableResult);
        var (header, _, dataStart) = ReadCheckedHeader(seekableResult);
        if (valuesChecked)
        {
            return;
        }

        byte[] buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        try
        {
            CheckFinite(seekableResult, dataStart, header.Tensors, buffer);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Reads a result's header from the stream's position and checks it against the template.</summary>
    private (SafetensorsHeader Header, int[] Map, long DataStart) ReadCheckedHeader(Stream seekableResult)
    {
        if (!seekableResult.CanRead || !seekableResult.CanSeek)
        {
            throw new ArgumentException("the result stream must be readable and seekable", nameof(seekableResult));
        }

        long origin = seekableResult.Position;
        SafetensorsHeader header;
        try
        {
            header = Safetensors.ReadHeader(seekableResult, seekableResult.Length - origin);
        }
        catch (SafetensorsFormatException e)
        {
            throw new WeightsRejectedException($"result is not a valid safetensors file: {e.Message}");
        }

        var entries = header.Tensors;
        var map = new int[entries.Count];
        ValidateSchema(entries.Count, i => (entries[i].Name, entries[i].DType, entries[i].Shape), map);
        return (header, map, origin + header.DataStart);
    }

    /// <summary>Reads every float32 value of the data once, refusing the first non-finite one.</summary>
    private static void CheckFinite(Stream stream, long dataStart, IReadOnlyList<TensorEntry> entries, byte[] buffer)
    {
        stream.Seek(dataStart, SeekOrigin.Begin);
        for (int t = 0; t < entries.Count; t++)
        {
            var e = entries[t];
            long remaining = e.End - e.Begin;
            int element = 0;
            while (remaining > 0)
            {
                int n = (int)Math.Min(remaining, ChunkBytes);
                ReadChunk(stream, buffer, n, e.Name);
                if (e.DType != TensorDType.F32)
                {
                    remaining -= n;
                    continue;
                }

                var values = MemoryMarshal.Cast<byte, float>(buffer.AsSpan(0, n));
                int bad = FloatKernels.IndexOfNonFinite(values);
                if (bad >= 0)
                {
                    throw NonFinite(e.Name, element + bad, values[bad]);
                }

                element += values.Length;
                remaining -= n;
            }
        }
    }

    /// <summary>
    /// Folds in a stored result whose values were already found finite as it arrived (<see cref="SafetensorsFiniteCheck"/>):
    /// one pass over its data, read through a memory map (no copy into a buffer). Names, dtypes and shapes are still
    /// checked against the template from the header.
    /// </summary>
    /// <exception cref="WeightsRejectedException">The header is malformed or does not match the model.</exception>
    public void AddPrechecked(string resultPath, double weight)
    {
        ArgumentNullException.ThrowIfNull(resultPath);
        using var file = new FileStream(resultPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
        AddPrechecked(file, weight);
    }

    /// <summary>
    /// Same as <see cref="AddPrechecked(string,double)"/> for a result read from <paramref name="seekableResult"/> (from its
    /// current position): a <see cref="FileStream"/> is mapped through its handle, any other stream is folded in one
    /// buffered pass.
    /// </summary>
    /// <exception cref="WeightsRejectedException">The header is malformed or does not match the model.</exception>
    /// <exception cref="ArgumentException">The stream cannot read or seek.</exception>
    public void AddPrechecked(Stream seekableResult, double weight)
    {
        ArgumentNullException.ThrowIfNull(seekableResult);
        ThrowIfUnusable();
        ValidateWeight(weight);
        long origin = seekableResult.Position;
        var (header, map, _) = ReadCheckedHeader(seekableResult);
        if (header.DataLength > 0)
        {
            if (seekableResult is FileStream file)
            {
                FoldMapped(file, origin, header, map, (float)weight);
            }
            else
            {
                FoldStreamed(seekableResult, origin, header, map, (float)weight);
            }
        }

        _count++;
        _totalWeight += weight;
    }

    /// <summary>The data of a checked result folded through one pooled chunk buffer (for streams that are not files).</summary>
    private void FoldStreamed(Stream stream, long origin, SafetensorsHeader header, int[] map, float w)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        try
        {
            _broken = true;
            stream.Seek(origin + header.DataStart, SeekOrigin.Begin);
            var entries = header.Tensors;
            for (int t = 0; t < entries.Count; t++)
            {
                var e = entries[t];
                var sum = _sums[map[t]].AsSpan();
                long remaining = e.End - e.Begin;
                int at = 0;
                while (remaining > 0)
                {
                    int n = (int)Math.Min(remaining, ChunkBytes);
                    stream.ReadExactly(buffer, 0, n);
                    FoldBytes(e.DType, sum.Slice(at, n), buffer.AsSpan(0, n), w);
                    at += n;
                    remaining -= n;
                }
            }

            _broken = false;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Folds the data through read-only views of at most <see cref="MappedWindowBytes"/>, so the mapped pages resident
    /// at once stay small beside the sum (a whole mapped result would count as another model in the process's memory).
    /// </summary>
    private unsafe void FoldMapped(FileStream file, long origin, SafetensorsHeader header, int[] map, float w)
    {
        // Mapped through the caller's handle (left open): the caller may hold a stream and no path.
        using var mapped = MemoryMappedFile.CreateFromFile(file.SafeFileHandle, mapName: null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: true);
        _broken = true;
        var entries = header.Tensors;
        for (int t = 0; t < entries.Count; t++)
        {
            var e = entries[t];
            var sum = _sums[map[t]]!;
            long done = 0;
            long total = e.End - e.Begin;
            while (done < total)
            {
                long n = Math.Min(MappedWindowBytes, total - done);
                using var view = mapped.CreateViewAccessor(origin + header.DataStart + e.Begin + done, n, MemoryMappedFileAccess.Read);
                byte* start = null;
                view.SafeMemoryMappedViewHandle.AcquirePointer(ref start);
                try
                {
                    if (e.DType == TensorDType.F32)
                    {
                        FoldParallel(sum, (int)(done / sizeof(float)), (float*)(start + view.PointerOffset), (int)(n / sizeof(float)), w);
                    }
                    else
                    {
                        FoldBytes(e.DType, sum.AsSpan((int)done, (int)n), new ReadOnlySpan<byte>(start + view.PointerOffset, (int)n), w);
                    }
                }
                finally
                {
                    view.SafeMemoryMappedViewHandle.ReleasePointer();
                }

                done += n;
            }
        }

        _broken = false;
    }

    /// <summary>
    /// Folds <paramref name="count"/> floats at <paramref name="values"/> into the sum from element <paramref name="at"/>,
    /// split across the cores when the window is large: one core does not saturate memory bandwidth with this kernel.
    /// Each element still sees the same operations, so the result does not depend on the split.
    /// </summary>
    private unsafe void FoldParallel(byte[] sumBytes, int at, float* values, int count, float w)
    {
        int parts = count >= ParallelFoldFloats ? Math.Min(Environment.ProcessorCount, MaxFoldThreads) : 1;
        if (parts <= 1)
        {
            Fold(MemoryMarshal.Cast<byte, float>(sumBytes.AsSpan()).Slice(at, count), new ReadOnlySpan<float>(values, count), w);
            return;
        }

        nint source = (nint)values;
        int each = ((count / parts) + 15) & ~15;
        Parallel.For(0, parts, p =>
        {
            int from = p * each;
            int length = Math.Min(each, count - from);
            if (length > 0)
            {
                Fold(MemoryMarshal.Cast<byte, float>(sumBytes.AsSpan()).Slice(at + from, length), new ReadOnlySpan<float>((float*)source + from, length), w);
            }
        });
    }

    /// <summary>Windows at least this many floats (4 MiB) are folded on several cores.</summary>
    private const int ParallelFoldFloats = 1 << 20;

    /// <summary>More threads than this add nothing: memory bandwidth is the limit.</summary>
    private const int MaxFoldThreads = 4;

    /// <summary>The first result is written as 0 + x·w (the same IEEE operations as folding into zeros, without reading the sum).</summary>
    private void Fold(Span<float> sum, ReadOnlySpan<float> values, float w)
    {
        if (_count == 0)
        {
            FloatKernels.MultiplyAssign(sum, values, w);
        }
        else
        {
            FloatKernels.MultiplyAdd(sum, values, w);
        }
    }

    /// <summary>
    /// Folds one tensor's bytes (whole elements) into its running value: F32 as the weighted sum, I64 as the running
    /// maximum (the first result copied).
    /// </summary>
    private void FoldBytes(TensorDType dtype, Span<byte> sum, ReadOnlySpan<byte> values, float w)
    {
        if (dtype == TensorDType.F32)
        {
            Fold(MemoryMarshal.Cast<byte, float>(sum), MemoryMarshal.Cast<byte, float>(values), w);
            return;
        }

        if (_count == 0)
        {
            values.CopyTo(sum);
            return;
        }

        var max = MemoryMarshal.Cast<byte, long>(sum);
        var x = MemoryMarshal.Cast<byte, long>(values);
        for (int i = 0; i < max.Length; i++)
        {
            if (x[i] > max[i])
            {
                max[i] = x[i];
            }
        }
    }

    /// <summary>Same as <see cref="Add(Stream,double)"/> for in-memory tensors.</summary>
    public void Add(IReadOnlyList<NamedTensor> result, double weight)
    {
        ArgumentNullException.ThrowIfNull(result);
        ThrowIfUnusable();
        ValidateWeight(weight);
        for (int i = 0; i < result.Count; i++)
        {
            if (result[i] is null)
            {
                throw new WeightsRejectedException($"result tensor {i} is null");
            }
        }

        var map = new int[result.Count];
        ValidateSchema(result.Count, i => (result[i].Name, result[i].DType, result[i].Shape), map);
        for (int t = 0; t < result.Count; t++)
        {
            if (result[t].DType != TensorDType.F32)
            {
                continue;
            }

            var values = MemoryMarshal.Cast<byte, float>(result[t].Data.AsSpan());
            int bad = FloatKernels.IndexOfNonFinite(values);
            if (bad >= 0)
            {
                throw NonFinite(result[t].Name, bad, values[bad]);
            }
        }

        float w = (float)weight;
        for (int t = 0; t < result.Count; t++)
        {
            FoldBytes(result[t].DType, _sums[map[t]].AsSpan(), result[t].Data.AsSpan(), w);
        }

        _count++;
        _totalWeight += weight;
    }

    /// <summary>Divides by the total weight and returns the average (template order). The accumulator cannot be used afterwards.</summary>
    /// <exception cref="InvalidOperationException">Nothing was added, or called twice.</exception>
    public IReadOnlyList<NamedTensor> Finish()
    {
        ThrowIfUnusable();
        if (_count == 0)
        {
            throw new InvalidOperationException("no results were added: there is nothing to average");
        }

        _finished = true;
        float total = (float)_totalWeight;
        var result = new NamedTensor[_names.Length];
        for (int i = 0; i < _names.Length; i++)
        {
            byte[] data = _sums[i]!;
            _sums[i] = null;
            if (_dtypes[i] == TensorDType.F32)
            {
                FloatKernels.Divide(MemoryMarshal.Cast<byte, float>(data.AsSpan()), total);
            }

            result[i] = new NamedTensor(_names[i], _dtypes[i], _shapes[i], data);
        }

        return result;
    }

    private void AddInPlace(ReadOnlySpan<byte> file, long dataStart, IReadOnlyList<TensorEntry> entries, int[] map, double weight)
    {
        for (int t = 0; t < entries.Count; t++)
        {
            var e = entries[t];
            if (e.DType != TensorDType.F32)
            {
                continue;
            }

            var values = MemoryMarshal.Cast<byte, float>(file.Slice((int)(dataStart + e.Begin), (int)(e.End - e.Begin)));
            int bad = FloatKernels.IndexOfNonFinite(values);
            if (bad >= 0)
            {
                throw NonFinite(e.Name, bad, values[bad]);
            }
        }

        float w = (float)weight;
        for (int t = 0; t < entries.Count; t++)
        {
            var e = entries[t];
            FoldBytes(e.DType, _sums[map[t]].AsSpan(), file.Slice((int)(dataStart + e.Begin), (int)(e.End - e.Begin)), w);
        }

        _count++;
        _totalWeight += weight;
    }

    /// <summary>Checks names (exactly the template's), dtypes and shapes; fills <paramref name="map"/> with template indices.</summary>
    private void ValidateSchema(int count, Func<int, (string Name, TensorDType DType, long[] Shape)> get, int[] map)
    {
        var seen = new bool[_names.Length];
        List<string>? unexpected = null;
        List<string>? duplicates = null;
        for (int i = 0; i < count; i++)
        {
            string name = get(i).Name;
            if (_index.TryGetValue(name, out int ti))
            {
                if (seen[ti])
                {
                    (duplicates ??= []).Add(name);
                }

                seen[ti] = true;
                map[i] = ti;
            }
            else
            {
                (unexpected ??= []).Add(name);
            }
        }

        List<string>? missing = null;
        for (int i = 0; i < seen.Length; i++)
        {
            if (!seen[i])
            {
                (missing ??= []).Add(_names[i]);
            }
        }

        if (missing is not null || unexpected is not null || duplicates is not null)
        {
            var sb = new StringBuilder("result tensors do not match the model:");
            AppendNames(sb, "missing", missing);
            AppendNames(sb, "unexpected", unexpected);
            AppendNames(sb, "duplicate", duplicates);
            throw new WeightsRejectedException(sb.ToString());
        }

        for (int i = 0; i < count; i++)
        {
            var (name, dtype, shape) = get(i);
            if (dtype != _dtypes[map[i]])
            {
                throw new WeightsRejectedException($"tensor '{name}': dtype {dtype.ToHeaderString()}, expected {_dtypes[map[i]].ToHeaderString()}");
            }

            long[] expected = _shapes[map[i]];
            if (!expected.AsSpan().SequenceEqual(shape))
            {
                throw new WeightsRejectedException(
                    $"tensor '{name}': shape {NamedTensor.FormatShape(shape)}, expected {NamedTensor.FormatShape(expected)}");
            }
        }
    }

    private static void AppendNames(StringBuilder sb, string label, List<string>? names)
    {
        if (names is null)
        {
            return;
        }

        const int Shown = 10;
        sb.Append(' ').Append(names.Count).Append(' ').Append(label).Append(" (");
        for (int i = 0; i < names.Count && i < Shown; i++)
        {
            sb.Append(i == 0 ? "'" : ", '").Append(names[i]).Append('\'');
        }

        if (names.Count > Shown)
        {
            sb.Append(", ... ").Append(names.Count - Shown).Append(" more");
        }

        sb.Append(");");
    }

    private static WeightsRejectedException NonFinite(string name, int element, float value) =>
        new($"tensor '{name}': non-finite value {(float.IsNaN(value) ? "NaN" : value > 0 ? "+Infinity" : "-Infinity")} at element {element}");

    private static void ReadChunk(Stream stream, byte[] buffer, int count, string tensor)
    {
        try
        {
            stream.ReadExactly(buffer, 0, count);
        }
        catch (EndOfStreamException)
        {
            throw new WeightsRejectedException($"tensor '{tensor}': the result ended before its data");
        }
    }

    private static void ValidateWeight(double weight)
    {
        if (!double.IsFinite(weight) || weight <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(weight), weight, "the weight (sample count) must be finite and greater than 0");
        }
    }

    private void ThrowIfUnusable()
    {
        if (_finished)
        {
            throw new InvalidOperationException("the accumulator was already finished");
        }

        if (_broken)
        {
            throw new InvalidOperationException("the accumulator is unusable: reading a result failed in the middle of folding it");
        }
    }
}
