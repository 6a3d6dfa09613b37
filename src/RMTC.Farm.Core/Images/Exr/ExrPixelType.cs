namespace RMTC.Farm.Core.Images.Exr;

/// <summary>How a channel's samples are stored in the file (values as in OpenEXR's <c>exr_pixel_type_t</c>).</summary>
public enum ExrPixelType
{
    /// <summary>32-bit unsigned integer (object ids and the like); read as float.</summary>
    UInt = 0,

    /// <summary>16-bit IEEE half float, the usual storage for beauty and colour AOVs.</summary>
    Half = 1,

    /// <summary>32-bit IEEE float (depth, positions, anything needing the range).</summary>
    Float = 2,
}
