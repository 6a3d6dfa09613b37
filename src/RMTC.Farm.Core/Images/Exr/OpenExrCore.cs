using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace RMTC.Farm.Core.Images.Exr;

/// <summary>
/// OpenEXRCore's C API (OpenEXR 3.1, Debian's <c>libopenexr-3-1-30</c>), the subset this reader and writer use.
/// Every function returns an <c>exr_result_t</c>: 0 is success.
/// </summary>
internal static unsafe partial class OpenExrCore
{
    /// <summary>The shared library's soname (the runtime package, not -dev, provides it).</summary>
    public const string Library = "libOpenEXRCore-3_1.so.30";

    public const int StorageScanline = 0;
    public const int StorageTiled = 1;
    public const int PixelFloat = 2;
    public const int WriteViaTempFile = 1;

    [LibraryImport(Library, EntryPoint = "exr_start_read", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int StartRead(out ExrContextHandle context, string fileName, ExrContextInitializer* init);

    [LibraryImport(Library, EntryPoint = "exr_start_write", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int StartWrite(out ExrContextHandle context, string fileName, int mode, ExrContextInitializer* init);

    [LibraryImport(Library, EntryPoint = "exr_finish")]
    public static partial int Finish(nint* context);

    [LibraryImport(Library, EntryPoint = "exr_get_error_code_as_string")]
    public static partial byte* ErrorCodeName(int code);

    [LibraryImport(Library, EntryPoint = "exr_get_default_error_message")]
    public static partial byte* DefaultErrorMessage(int code);

    [LibraryImport(Library, EntryPoint = "exr_get_count")]
    public static partial int GetCount(ExrContextHandle context, out int count);

    [LibraryImport(Library, EntryPoint = "exr_get_name")]
    public static partial int GetName(ExrContextHandle context, int part, out byte* name);

    [LibraryImport(Library, EntryPoint = "exr_get_storage")]
    public static partial int GetStorage(ExrContextHandle context, int part, out int storage);

    [LibraryImport(Library, EntryPoint = "exr_get_tile_descriptor")]
    public static partial int GetTileDescriptor(ExrContextHandle context, int part, out uint xSize, out uint ySize, out int levelMode, out int roundMode);

    [LibraryImport(Library, EntryPoint = "exr_get_data_window")]
    public static partial int GetDataWindow(ExrContextHandle context, int part, out ExrNativeBox box);

    [LibraryImport(Library, EntryPoint = "exr_get_display_window")]
    public static partial int GetDisplayWindow(ExrContextHandle context, int part, out ExrNativeBox box);

    [LibraryImport(Library, EntryPoint = "exr_get_channels")]
    public static partial int GetChannels(ExrContextHandle context, int part, out ExrNativeChannelList* channels);

    [LibraryImport(Library, EntryPoint = "exr_get_compression")]
    public static partial int GetCompression(ExrContextHandle context, int part, out int compression);

    [LibraryImport(Library, EntryPoint = "exr_get_scanlines_per_chunk")]
    public static partial int GetScanlinesPerChunk(ExrContextHandle context, int part, out int lines);

    [LibraryImport(Library, EntryPoint = "exr_read_scanline_chunk_info")]
    public static partial int ReadScanlineChunkInfo(ExrContextHandle context, int part, int y, ExrChunkInfo* info);

    [LibraryImport(Library, EntryPoint = "exr_read_tile_chunk_info")]
    public static partial int ReadTileChunkInfo(ExrContextHandle context, int part, int tileX, int tileY, int levelX, int levelY, ExrChunkInfo* info);

    [LibraryImport(Library, EntryPoint = "exr_decoding_initialize")]
    public static partial int DecodingInitialize(ExrContextHandle context, int part, ExrChunkInfo* info, ExrDecodePipeline* decode);

    [LibraryImport(Library, EntryPoint = "exr_decoding_choose_default_routines")]
    public static partial int DecodingChooseDefaultRoutines(ExrContextHandle context, int part, ExrDecodePipeline* decode);

    [LibraryImport(Library, EntryPoint = "exr_decoding_update")]
    public static partial int DecodingUpdate(ExrContextHandle context, int part, ExrChunkInfo* info, ExrDecodePipeline* decode);

    [LibraryImport(Library, EntryPoint = "exr_decoding_run")]
    public static partial int DecodingRun(ExrContextHandle context, int part, ExrDecodePipeline* decode);

    [LibraryImport(Library, EntryPoint = "exr_decoding_destroy")]
    public static partial int DecodingDestroy(ExrContextHandle context, ExrDecodePipeline* decode);

    [LibraryImport(Library, EntryPoint = "exr_add_part", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int AddPart(ExrContextHandle context, string? name, int storage, out int part);

    [LibraryImport(Library, EntryPoint = "exr_initialize_required_attr")]
    public static partial int InitializeRequiredAttributes(
        ExrContextHandle context, int part, ExrNativeBox* displayWindow, ExrNativeBox* dataWindow, float pixelAspectRatio,
        ExrNativeV2f* screenWindowCenter, float screenWindowWidth, int lineOrder, int compression);

    [LibraryImport(Library, EntryPoint = "exr_add_channel", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int AddChannel(ExrContextHandle context, int part, string name, int pixelType, int perceptual, int xSampling, int ySampling);

    [LibraryImport(Library, EntryPoint = "exr_set_tile_descriptor")]
    public static partial int SetTileDescriptor(ExrContextHandle context, int part, uint xSize, uint ySize, int levelMode, int roundMode);

    [LibraryImport(Library, EntryPoint = "exr_set_longname_support")]
    public static partial int SetLongNameSupport(ExrContextHandle context, int onOff);

    [LibraryImport(Library, EntryPoint = "exr_write_header")]
    public static partial int WriteHeader(ExrContextHandle context);

    [LibraryImport(Library, EntryPoint = "exr_write_scanline_chunk_info")]
    public static partial int WriteScanlineChunkInfo(ExrContextHandle context, int part, int y, ExrChunkInfo* info);

    [LibraryImport(Library, EntryPoint = "exr_write_tile_chunk_info")]
    public static partial int WriteTileChunkInfo(ExrContextHandle context, int part, int tileX, int tileY, int levelX, int levelY, ExrChunkInfo* info);

    [LibraryImport(Library, EntryPoint = "exr_encoding_initialize")]
    public static partial int EncodingInitialize(ExrContextHandle context, int part, ExrChunkInfo* info, ExrEncodePipeline* encode);

    [LibraryImport(Library, EntryPoint = "exr_encoding_choose_default_routines")]
    public static partial int EncodingChooseDefaultRoutines(ExrContextHandle context, int part, ExrEncodePipeline* encode);

    [LibraryImport(Library, EntryPoint = "exr_encoding_update")]
    public static partial int EncodingUpdate(ExrContextHandle context, int part, ExrChunkInfo* info, ExrEncodePipeline* encode);

    [LibraryImport(Library, EntryPoint = "exr_encoding_run")]
    public static partial int EncodingRun(ExrContextHandle context, int part, ExrEncodePipeline* encode);

    [LibraryImport(Library, EntryPoint = "exr_encoding_destroy")]
    public static partial int EncodingDestroy(ExrContextHandle context, ExrEncodePipeline* encode);

    [LibraryImport(Library, EntryPoint = "exr_get_attribute_count")]
    public static partial int GetAttributeCount(ExrContextHandle context, int part, out int count);

    /// <summary>Mode 0: file order.</summary>
    [LibraryImport(Library, EntryPoint = "exr_get_attribute_by_index")]
    public static partial int GetAttributeByIndex(ExrContextHandle context, int part, int mode, int index, out ExrNativeAttribute* attribute);

    [LibraryImport(Library, EntryPoint = "exr_attr_set_string", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int SetString(ExrContextHandle context, int part, string name, string value);

    [LibraryImport(Library, EntryPoint = "exr_attr_set_int", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int SetInt(ExrContextHandle context, int part, string name, int value);

    [LibraryImport(Library, EntryPoint = "exr_attr_set_float", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int SetFloat(ExrContextHandle context, int part, string name, float value);

    [LibraryImport(Library, EntryPoint = "exr_attr_set_double", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int SetDouble(ExrContextHandle context, int part, string name, double value);

    /// <summary>
    /// The setters of the struct-valued types (v2i, v2f, v3i, v3f, m33f, m44f, box2i, box2f, chromaticities): each takes a
    /// pointer to its struct, which is that many ints or floats in a row.
    /// </summary>
    public static int SetStruct(ExrContextHandle context, int part, string name, ExrAttributeType type, void* value) => type switch
    {
        ExrAttributeType.V2i => SetV2i(context, part, name, value),
        ExrAttributeType.V2f => SetV2f(context, part, name, value),
        ExrAttributeType.V3i => SetV3i(context, part, name, value),
        ExrAttributeType.V3f => SetV3f(context, part, name, value),
        ExrAttributeType.M33f => SetM33f(context, part, name, value),
        ExrAttributeType.M44f => SetM44f(context, part, name, value),
        ExrAttributeType.Box2i => SetBox2i(context, part, name, value),
        ExrAttributeType.Box2f => SetBox2f(context, part, name, value),
        ExrAttributeType.Chromaticities => SetChromaticities(context, part, name, value),
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "not a struct-valued attribute type"),
    };

    [LibraryImport(Library, EntryPoint = "exr_attr_set_v2i", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetV2i(ExrContextHandle context, int part, string name, void* value);

    [LibraryImport(Library, EntryPoint = "exr_attr_set_v2f", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetV2f(ExrContextHandle context, int part, string name, void* value);

    [LibraryImport(Library, EntryPoint = "exr_attr_set_v3i", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetV3i(ExrContextHandle context, int part, string name, void* value);

    [LibraryImport(Library, EntryPoint = "exr_attr_set_v3f", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetV3f(ExrContextHandle context, int part, string name, void* value);

    [LibraryImport(Library, EntryPoint = "exr_attr_set_m33f", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetM33f(ExrContextHandle context, int part, string name, void* value);

    [LibraryImport(Library, EntryPoint = "exr_attr_set_m44f", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetM44f(ExrContextHandle context, int part, string name, void* value);

    [LibraryImport(Library, EntryPoint = "exr_attr_set_box2i", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetBox2i(ExrContextHandle context, int part, string name, void* value);

    [LibraryImport(Library, EntryPoint = "exr_attr_set_box2f", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetBox2f(ExrContextHandle context, int part, string name, void* value);

    [LibraryImport(Library, EntryPoint = "exr_attr_set_chromaticities", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetChromaticities(ExrContextHandle context, int part, string name, void* value);

    /// <summary>The last message the library reported on this thread (its default handler would print it to stderr).</summary>
    [ThreadStatic]
    private static string? lastError;

    /// <summary>The error callback for <see cref="ExrContextInitializer.ErrorHandler"/>.</summary>
    public static nint ErrorHandler => (nint)(delegate* unmanaged[Cdecl]<nint, int, byte*, void>)&OnError;

    /// <summary>Clears the captured message before a call whose failure is to be explained.</summary>
    public static void ClearError() => lastError = null;

    /// <summary>The library's own words for a failed call: the detailed message it reported, else the code's default text.</summary>
    public static string Describe(int code)
    {
        var detail = lastError;
        lastError = null;
        if (!string.IsNullOrWhiteSpace(detail))
        {
            return detail;
        }

        var text = Marshal.PtrToStringUTF8((nint)DefaultErrorMessage(code));
        var name = Marshal.PtrToStringUTF8((nint)ErrorCodeName(code));
        return $"{text ?? "error"} ({name ?? code.ToString(System.Globalization.CultureInfo.InvariantCulture)})";
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnError(nint context, int code, byte* message)
    {
        // Keep the first, most specific message of a failing call; later ones tend to be the generic echo.
        lastError ??= message == null ? null : Marshal.PtrToStringUTF8((nint)message);
    }
}
