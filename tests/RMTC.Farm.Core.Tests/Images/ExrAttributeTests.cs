using System.Runtime.CompilerServices;
using RMTC.Farm.Core.Images.Exr;

namespace RMTC.Farm.Core.Tests.Images;

/// <summary>Header attributes through ExrFile: written and read back here, read by oiiotool, and oiiotool's read here.</summary>
public sealed class ExrAttributeTests : IDisposable
{
    private readonly string dir = TestFiles.TempDir();

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private string At(string name) => Path.Combine(dir, name);

    private static readonly ExrAttribute[] Sample =
    [
        ExrAttribute.String("rmtc.run_id", "denoise-1a2b3c"),
        ExrAttribute.String("comments", "grün, 50 cd/m² — UTF-8"),
        ExrAttribute.String("empty", ""),
        ExrAttribute.Of("samples", ExrAttributeType.Int, -256),
        ExrAttribute.Of("exposure", ExrAttributeType.Float, 1.5),
        ExrAttribute.Of("frameTime", ExrAttributeType.Double, 1.0 / 3),
        ExrAttribute.Of("tile", ExrAttributeType.V2i, 3, -4),
        ExrAttribute.Of("offset", ExrAttributeType.V2f, 0.25, -0.5),
        ExrAttribute.Of("origin", ExrAttributeType.V3i, 1, 2, 3),
        ExrAttribute.Of("sun", ExrAttributeType.V3f, 0.5, 0.25, -1),
        ExrAttribute.Of("ndc", ExrAttributeType.M33f, 1, 2, 3, 4, 5, 6, 7, 8, 9),
        ExrAttribute.Of("worldToCamera", ExrAttributeType.M44f, [.. Enumerable.Range(0, 16).Select(i => i * 0.5)]),
        ExrAttribute.Of("crop", ExrAttributeType.Box2i, -1, -2, 30, 40),
        ExrAttribute.Of("region", ExrAttributeType.Box2f, 0.5, 0.5, 1.5, 2.5),
        ExrAttribute.Of("chromaticities", ExrAttributeType.Chromaticities, 0.64, 0.33, 0.3, 0.6, 0.15, 0.06, 0.3127, 0.329),
    ];

    [Fact]
    public void The_native_attribute_struct_has_the_size_of_OpenEXR_3_1s()
    {
        Assert.Equal(32, Unsafe.SizeOf<ExrNativeAttribute>());
    }

    [Fact]
    public void Attributes_of_every_carried_type_round_trip_and_oiiotool_reads_them()
    {
        ExrFile.Write(At("a.exr"), new ExrImage([Part(Sample)]));
        var read = ExrFile.ReadHeader(At("a.exr")).Parts[0].Attributes;
        foreach (var written in Sample)
        {
            var back = Assert.Single(read, a => a.Name == written.Name);
            Assert.Equal(written.Type, back.Type);
            Assert.Equal(written.Text, back.Text);
            Assert.Equal(written.Numbers.Select(n => (float)n), back.Numbers.Select(n => (float)n));
        }

        // Only what the part's own fields do not already say: no channels, windows or compression among them.
        Assert.DoesNotContain(read, a => ExrAttribute.Reserved.Contains(a.Name));

        var info = Oiiotool.Run(dir, "--info", "-v", "a.exr");
        Assert.Contains("rmtc.run_id: \"denoise-1a2b3c\"", info, StringComparison.Ordinal);
        Assert.Contains("samples: -256", info, StringComparison.Ordinal);
        Assert.Contains("worldToCamera:", info, StringComparison.Ordinal);
    }

    [Fact]
    public void Attributes_written_by_oiiotool_are_read()
    {
        Oiiotool.Run(dir, "--pattern", "constant:color=0.5,1,2", "8x6", "3", "--attrib", "owner", "Studio A", "--attrib:type=int", "renderSamples", "64",
            "--attrib:type=float", "exposure", "0.75", "--attrib:type=matrix", "worldToCamera", "1,0,0,0,0,1,0,0,0,0,1,0,5,6,7,1", "-d", "half", "-o", "o.exr");
        var part = ExrFile.Read(At("o.exr")).Parts[0];
        Assert.Equal("Studio A", part.Attribute("owner")?.Text);
        Assert.Equal([64.0], part.Attribute("renderSamples")?.Numbers);
        Assert.Equal([0.75], part.Attribute("exposure")?.Numbers);
        Assert.Equal(ExrAttributeType.M44f, part.Attribute("worldToCamera")?.Type);
        Assert.Equal(5.0, part.Attribute("worldToCamera")!.Numbers[12]);

        // Carried through a read and a write unchanged.
        ExrFile.Write(At("copy.exr"), new ExrImage([part]));
        var copy = ExrFile.ReadHeader(At("copy.exr")).Parts[0];
        Assert.Equal(part.Attributes.Select(a => a.ToString()), copy.Attributes.Select(a => a.ToString()));
    }

    [Fact]
    public void Reserved_names_wrong_counts_and_duplicates_are_refused_with_the_reason()
    {
        Assert.Contains("windows, channels", Assert.Throws<ArgumentException>(() => ExrAttribute.String("dataWindow", "x")).Message, StringComparison.Ordinal);
        Assert.Contains("holds 16 values", Assert.Throws<ArgumentException>(() => ExrAttribute.Of("m", ExrAttributeType.M44f, 1, 2)).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => ExrAttribute.String("", "x"));
        Assert.Contains("distinct", Assert.Throws<ArgumentException>(() => Part([ExrAttribute.String("a", "1"), ExrAttribute.String("a", "2")])).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Names_longer_than_31_bytes_as_Blender_writes_them_are_written_with_the_long_names_flag()
    {
        // Blender's own header attribute (37 bytes); EXR 1.x names stop at 31 unless the file says otherwise.
        const string name = "cycles.ViewLayer.synchronization_time";
        var window = ExrBox.FromSize(8, 6);
        const string channel = "ViewLayer.Denoising Albedo Variance.R";
        ExrFile.Write(At("long.exr"), new ExrImage([new ExrPart(null, window, window, [new ExrChannel(channel, ExrPixelType.Float)],
            ExrCompression.Zip, null, [new float[48]], [ExrAttribute.String(name, "00:00.01")])]));
        var part = ExrFile.Read(At("long.exr")).Parts[0];
        Assert.Equal("00:00.01", part.Attribute(name)?.Text);
        Assert.Equal(channel, Assert.Single(part.Channels).Name);
        Assert.Contains(name, Oiiotool.Run(dir, "--info", "-v", "long.exr"), StringComparison.Ordinal);
    }

    private static ExrPart Part(IReadOnlyList<ExrAttribute> attributes)
    {
        var window = ExrBox.FromSize(8, 6);
        return new ExrPart(null, window, window, [new ExrChannel("R", ExrPixelType.Half)], ExrCompression.Zip, null, [new float[48]], attributes);
    }
}
