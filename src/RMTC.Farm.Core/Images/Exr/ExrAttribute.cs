using System.Globalization;

namespace RMTC.Farm.Core.Images.Exr;

/// <summary>The header attribute types carried through <see cref="ExrFile"/> (others are left out when a file is read).</summary>
public enum ExrAttributeType
{
    /// <summary>UTF-8 text (<c>string</c>): owner, comments, renderer settings, provenance.</summary>
    String,

    /// <summary>32-bit signed integer (<c>int</c>).</summary>
    Int,

    /// <summary>32-bit float (<c>float</c>).</summary>
    Float,

    /// <summary>64-bit float (<c>double</c>).</summary>
    Double,

    /// <summary>Two ints (<c>v2i</c>).</summary>
    V2i,

    /// <summary>Two floats (<c>v2f</c>).</summary>
    V2f,

    /// <summary>Three ints (<c>v3i</c>).</summary>
    V3i,

    /// <summary>Three floats (<c>v3f</c>).</summary>
    V3f,

    /// <summary>3×3 float matrix, row-major (<c>m33f</c>).</summary>
    M33f,

    /// <summary>4×4 float matrix, row-major (<c>m44f</c>): camera transforms such as <c>worldToCamera</c>.</summary>
    M44f,

    /// <summary>Integer box: min x, min y, max x, max y (<c>box2i</c>).</summary>
    Box2i,

    /// <summary>Float box: min x, min y, max x, max y (<c>box2f</c>).</summary>
    Box2f,

    /// <summary>Red, green, blue and white x/y chromaticity coordinates (<c>chromaticities</c>).</summary>
    Chromaticities,
}

/// <summary>
/// One header attribute of a part beyond those <see cref="ExrPart"/> models itself (windows, channels, compression,
/// tiling, name): a string in <see cref="Text"/>, or numbers in <see cref="Numbers"/> (as many as the type holds).
/// </summary>
public sealed record ExrAttribute
{
    private ExrAttribute(string name, ExrAttributeType type, string? text, double[] numbers)
    {
        Name = name;
        Type = type;
        Text = text;
        Numbers = numbers;
    }

    /// <summary>The attribute's name, e.g. <c>owner</c> or <c>rmtc.run_id</c>.</summary>
    public string Name { get; }

    /// <summary>Its type.</summary>
    public ExrAttributeType Type { get; }

    /// <summary>The text of a <see cref="ExrAttributeType.String"/> attribute; null otherwise.</summary>
    public string? Text { get; }

    /// <summary>The values of a numeric attribute (empty for a string), in the order the type lists them.</summary>
    public IReadOnlyList<double> Numbers { get; }

    /// <summary>Names the library writes from the part's own fields, which no attribute may take.</summary>
    public static IReadOnlySet<string> Reserved { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        "channels", "compression", "dataWindow", "displayWindow", "lineOrder", "pixelAspectRatio", "screenWindowCenter",
        "screenWindowWidth", "tiles", "name", "type", "version", "chunkCount",
    };

    /// <summary>A string attribute.</summary>
    public static ExrAttribute String(string name, string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return new(CheckName(name), ExrAttributeType.String, value, []);
    }

    /// <summary>A numeric attribute of <paramref name="type"/> with exactly the values it holds (see <see cref="CountOf"/>).</summary>
    public static ExrAttribute Of(string name, ExrAttributeType type, params double[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (type == ExrAttributeType.String)
        {
            throw new ArgumentException($"attribute {name}: use ExrAttribute.String for text", nameof(type));
        }

        if (values.Length != CountOf(type))
        {
            throw new ArgumentException($"attribute {name}: a {type} holds {CountOf(type)} values, got {values.Length}", nameof(values));
        }

        return new(CheckName(name), type, null, values.ToArray());
    }

    /// <summary>How many numbers a value of <paramref name="type"/> holds (0 for a string).</summary>
    public static int CountOf(ExrAttributeType type) => type switch
    {
        ExrAttributeType.String => 0,
        ExrAttributeType.Int or ExrAttributeType.Float or ExrAttributeType.Double => 1,
        ExrAttributeType.V2i or ExrAttributeType.V2f => 2,
        ExrAttributeType.V3i or ExrAttributeType.V3f => 3,
        ExrAttributeType.Box2i or ExrAttributeType.Box2f => 4,
        ExrAttributeType.Chromaticities => 8,
        ExrAttributeType.M33f => 9,
        ExrAttributeType.M44f => 16,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "not an attribute type ExrFile carries"),
    };

    /// <inheritdoc />
    public override string ToString() =>
        $"{Name} ({Type}) = {Text ?? string.Join(" ", Numbers.Select(n => n.ToString(CultureInfo.InvariantCulture)))}";

    private static string CheckName(string name)
    {
        // OpenEXR stores names as NUL-terminated text of at most 255 bytes (31 for files readable by OpenEXR 1.x).
        if (string.IsNullOrEmpty(name) || name.Contains('\0', StringComparison.Ordinal) || System.Text.Encoding.UTF8.GetByteCount(name) > 255)
        {
            throw new ArgumentException($"attribute name '{name}' must be 1 to 255 bytes of text without NUL", nameof(name));
        }

        if (Reserved.Contains(name))
        {
            throw new ArgumentException($"attribute name '{name}' is written from the part's own fields (windows, channels, compression, tiling); set those instead", nameof(name));
        }

        return name;
    }
}
