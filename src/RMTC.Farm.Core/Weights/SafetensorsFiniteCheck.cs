using System.Buffers.Binary;
using System.Runtime.InteropServices;
using RMTC.Farm.Core.Merging;

namespace RMTC.Farm.Core.Weights;

/// <summary>
/// Checks a safetensors file while its bytes stream past (an upload being received): the header parses and every
/// F32 value is finite. A result that passes can be merged in one pass over its data
/// (<see cref="FedAvgAccumulator.AddPrechecked(Stream, double)"/>) instead of a validating pass and a folding pass.
/// </summary>
/// <remarks>
/// It only answers "clean or not": anything unclean (bad header, a NaN, a short or long file) is left for the full
/// validation of <see cref="FedAvgAccumulator.Add(Stream,double)"/> to reject with its precise message. Memory is the
/// header received so far plus three bytes, whatever the file (or the header length it claims).
/// </remarks>
public sealed class SafetensorsFiniteCheck
{
    private readonly long _declaredLength;
    private byte[]? _header;
    private int _headerFilled;
    private int _headerTarget = 8;
    private SafetensorsHeader? _parsed;
    private long _position;
    private int _tensor;
    private readonly byte[] _carry = new byte[sizeof(float)];
    private int _carried;
    private bool _failed;

    /// <summary>Starts a check of a file that should be <paramref name="declaredLength"/> bytes long.</summary>
    public SafetensorsFiniteCheck(long declaredLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(declaredLength);
        _declaredLength = declaredLength;
    }

    /// <summary>True when the whole declared file has been seen, its header is valid and every F32 value is finite.</summary>
    public bool IsClean => !_failed && _parsed is not null && _position == _declaredLength;

    /// <summary>Feeds the next bytes of the file, in order.</summary>
    public void Append(ReadOnlySpan<byte> bytes)
    {
        while (!_failed && !bytes.IsEmpty)
        {
            if (_position + bytes.Length > _declaredLength)
            {
                _failed = true;
                return;
            }

            if (_parsed is null)
            {
                int used = AppendHeader(bytes);
                bytes = bytes[used..];
                continue;
            }

            CheckData(bytes);
            return;
        }
    }

    private int AppendHeader(ReadOnlySpan<byte> bytes)
    {
        // The 8-byte length prefix first; it stays at the start of the buffer so ReadHeader sees the whole file head.
        _header ??= new byte[8];

        int take = Math.Min(_headerTarget - _headerFilled, bytes.Length);
        if (_headerFilled + take > _header.Length)
        {
            // Grow with the bytes that arrive, not with the length the prefix claims: an upload that declares a
            // 100 MB header and sends 16 bytes costs 16 bytes.
            Array.Resize(ref _header, (int)Math.Min(_headerTarget, Math.Max(_headerFilled + take, 2L * _header.Length)));
        }

        bytes[..take].CopyTo(_header.AsSpan(_headerFilled));
        _headerFilled += take;
        _position += take;
        if (_headerFilled < _headerTarget)
        {
            return take;
        }

        if (_headerTarget == 8)
        {
            ulong length = BinaryPrimitives.ReadUInt64LittleEndian(_header);
            if (length == 0 || length > Safetensors.MaxHeaderLength || (long)length > _declaredLength - 8)
            {
                _failed = true;
                return take;
            }

            _headerTarget = 8 + (int)length;
            return take;
        }

        try
        {
            using var stream = new MemoryStream(_header, writable: false);
            _parsed = Safetensors.ReadHeader(stream, _declaredLength);
        }
        catch (SafetensorsFormatException)
        {
            _failed = true;
        }

        _header = null;
        return take;
    }

    private void CheckData(ReadOnlySpan<byte> bytes)
    {
        var tensors = _parsed!.Tensors;
        while (!bytes.IsEmpty)
        {
            long offset = _position - _parsed.DataStart;
            while (_tensor < tensors.Count && tensors[_tensor].End <= offset)
            {
                _tensor++;
            }

            if (_tensor >= tensors.Count)
            {
                _failed = true;
                return;
            }

            var t = tensors[_tensor];
            int n = (int)Math.Min(bytes.Length, t.End - offset);
            if (t.DType == TensorDType.F32 && !AllFinite(bytes[..n]))
            {
                _failed = true;
                return;
            }

            _position += n;
            bytes = bytes[n..];
        }
    }

    /// <summary>Checks float bytes that may start or end in the middle of a value (chunks need not align to 4).</summary>
    private bool AllFinite(ReadOnlySpan<byte> bytes)
    {
        if (_carried > 0)
        {
            int need = Math.Min(sizeof(float) - _carried, bytes.Length);
            bytes[..need].CopyTo(_carry.AsSpan(_carried));
            _carried += need;
            bytes = bytes[need..];
            if (_carried < sizeof(float))
            {
                return true;
            }

            _carried = 0;
            if (!float.IsFinite(BinaryPrimitives.ReadSingleLittleEndian(_carry)))
            {
                return false;
            }
        }

        int whole = bytes.Length & ~(sizeof(float) - 1);
        if (FloatKernels.IndexOfNonFinite(MemoryMarshal.Cast<byte, float>(bytes[..whole])) >= 0)
        {
            return false;
        }

        bytes[whole..].CopyTo(_carry);
        _carried = bytes.Length - whole;
        return true;
    }
}
