namespace RMTC.Farm.Core.Images.Exr;

/// <summary>The compression of a part (values as in OpenEXR's <c>exr_compression_t</c>); all are read and written by OpenEXR itself.</summary>
public enum ExrCompression
{
    /// <summary>Uncompressed.</summary>
    None = 0,

    /// <summary>Run-length encoding (lossless).</summary>
    Rle = 1,

    /// <summary>zlib, one scanline per chunk (lossless).</summary>
    Zips = 2,

    /// <summary>zlib, 16 scanlines per chunk (lossless); Blender's default.</summary>
    Zip = 3,

    /// <summary>Wavelet plus Huffman (lossless), good on grainy renders.</summary>
    Piz = 4,

    /// <summary>Lossy for float (24-bit), lossless for half and uint.</summary>
    Pxr24 = 5,

    /// <summary>Lossy 4×4 blocks for half channels.</summary>
    B44 = 6,

    /// <summary>B44 with flat blocks packed smaller.</summary>
    B44a = 7,

    /// <summary>DCT-based lossy (DreamWorks), 32 scanlines per chunk.</summary>
    Dwaa = 8,

    /// <summary>DCT-based lossy (DreamWorks), 256 scanlines per chunk.</summary>
    Dwab = 9,
}
