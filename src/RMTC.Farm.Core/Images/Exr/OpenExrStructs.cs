using System.Runtime.InteropServices;

namespace RMTC.Farm.Core.Images.Exr;

// Laid out to match OpenEXR 3.1's headers on 64-bit Linux (openexr_context.h, openexr_attr.h, openexr_chunkio.h,
// openexr_coding.h, openexr_decode.h, openexr_encode.h); a test checks the sizes against the C ones.
// C enums are int-sized; pointers and size_t are nint/nuint.

/// <summary><c>exr_context_initializer_t</c> (v3).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct ExrContextInitializer
{
    public nuint Size;
    public nint ErrorHandler;
    public nint AllocFn;
    public nint FreeFn;
    public nint UserData;
    public nint ReadFn;
    public nint SizeFn;
    public nint WriteFn;
    public nint DestroyFn;
    public int MaxImageWidth;
    public int MaxImageHeight;
    public int MaxTileWidth;
    public int MaxTileHeight;
    public int ZipLevel;
    public float DwaQuality;
    public int Flags;
}

/// <summary><c>exr_attr_box2i_t</c>: inclusive min and max corners.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct ExrNativeBox
{
    public int MinX;
    public int MinY;
    public int MaxX;
    public int MaxY;
}

/// <summary><c>exr_attr_v2f_t</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct ExrNativeV2f
{
    public float X;
    public float Y;
}

/// <summary><c>exr_attr_string_t</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct ExrNativeString
{
    public int Length;
    public int AllocSize;
    public byte* Str;
}

/// <summary><c>exr_attr_chlist_entry_t</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct ExrNativeChannel
{
    public ExrNativeString Name;
    public int PixelType;
    public byte PLinear;
    public byte Reserved0;
    public byte Reserved1;
    public byte Reserved2;
    public int XSampling;
    public int YSampling;
}

/// <summary><c>exr_attr_chlist_t</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct ExrNativeChannelList
{
    public int NumChannels;
    public int NumAlloced;
    public ExrNativeChannel* Entries;
}

/// <summary><c>exr_chunk_info_t</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct ExrChunkInfo
{
    public int Index;
    public int StartX;
    public int StartY;
    public int Height;
    public int Width;
    public byte LevelX;
    public byte LevelY;
    public byte Type;
    public byte Compression;
    public ulong DataOffset;
    public ulong PackedSize;
    public ulong UnpackedSize;
    public ulong SampleCountDataOffset;
    public ulong SampleCountTableSize;
}

/// <summary><c>exr_coding_channel_info_t</c>; <see cref="Data"/> is the decode_to_ptr / encode_from_ptr union.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct ExrCodingChannel
{
    public byte* ChannelName;
    public int Height;
    public int Width;
    public int XSamples;
    public int YSamples;
    public byte PLinear;
    public sbyte BytesPerElement;
    public ushort DataType;
    public short UserBytesPerElement;
    public ushort UserDataType;
    public int UserPixelStride;
    public int UserLineStride;
    public byte* Data;
}

/// <summary><c>exr_decode_pipeline_t</c>. It points into itself (<c>channels</c> → <c>_quick_chan_store</c>), so it lives in native memory and never moves.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct ExrDecodePipeline
{
    public ExrCodingChannel* Channels;
    public short ChannelCount;
    public ushort DecodeFlags;
    public int PartIndex;
    public nint Context;
    public ExrChunkInfo Chunk;
    public nint DecodingUserData;
    public nint PackedBuffer;
    public nuint PackedAllocSize;
    public nint UnpackedBuffer;
    public nuint UnpackedAllocSize;
    public nint PackedSampleCountTable;
    public nuint PackedSampleCountAllocSize;
    public nint SampleCountTable;
    public nuint SampleCountAllocSize;
    public nint ScratchBuffer1;
    public nuint ScratchAllocSize1;
    public nint ScratchBuffer2;
    public nuint ScratchAllocSize2;
    public nint AllocFn;
    public nint FreeFn;
    public nint ReadFn;
    public nint DecompressFn;
    public nint ReallocNonImageDataFn;
    public nint UnpackAndConvertFn;
    public QuickChannels QuickChannelStore;
}

/// <summary><c>exr_encode_pipeline_t</c>; like the decode pipeline, it lives in native memory.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct ExrEncodePipeline
{
    public ExrCodingChannel* Channels;
    public short ChannelCount;
    public ushort EncodeFlags;
    public int PartIndex;
    public nint Context;
    public ExrChunkInfo Chunk;
    public nint EncodingUserData;
    public nint PackedBuffer;
    public ulong PackedBytes;
    public nuint PackedAllocSize;
    public nint SampleCountTable;
    public nuint SampleCountAllocSize;
    public nint PackedSampleCountTable;
    public nuint PackedSampleCountBytes;
    public nuint PackedSampleCountAllocSize;
    public nint CompressedBuffer;
    public nuint CompressedBytes;
    public nuint CompressedAllocSize;
    public nint ScratchBuffer1;
    public nuint ScratchAllocSize1;
    public nint ScratchBuffer2;
    public nuint ScratchAllocSize2;
    public nint AllocFn;
    public nint FreeFn;
    public nint ConvertAndPackFn;
    public nint CompressFn;
    public nint YieldUntilReadyFn;
    public nint WriteFn;
    public QuickChannels QuickChannelStore;
}

/// <summary>The pipelines' inline store for up to five channels (<c>_quick_chan_store[5]</c>).</summary>
[System.Runtime.CompilerServices.InlineArray(5)]
internal struct QuickChannels
{
    private ExrCodingChannel _first;
}

/// <summary>
/// <c>exr_attribute_t</c>: name, type name, lengths, the type (<c>exr_attribute_type_t</c>) and an 8-byte union holding
/// an int, float or double in place, or a pointer to the value for every other type.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct ExrNativeAttribute
{
    public byte* Name;
    public byte* TypeName;
    public byte NameLength;
    public byte TypeNameLength;
    public byte Pad0;
    public byte Pad1;
    public int Type;
    public ExrNativeAttributeValue Value;
}

/// <summary>The union of <c>exr_attribute_t</c>.</summary>
[StructLayout(LayoutKind.Explicit, Size = 8)]
internal unsafe struct ExrNativeAttributeValue
{
    [FieldOffset(0)]
    public int Int;
    [FieldOffset(0)]
    public float Float;
    [FieldOffset(0)]
    public double Double;
    [FieldOffset(0)]
    public void* Pointer;
}
