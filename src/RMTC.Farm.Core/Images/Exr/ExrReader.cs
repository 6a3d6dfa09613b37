using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace RMTC.Farm.Core.Images.Exr;

/// <summary>Reads headers and pixels through OpenEXRCore's decode pipeline, converting every channel to planar float.</summary>
internal static unsafe class ExrReader
{
    public static ExrImage Read(string path, bool pixels)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path}: no such file", path);
        }

        var fileBytes = new FileInfo(path).Length;
        var init = ExrFile.Initializer();
        OpenExrCore.ClearError();
        var rc = OpenExrCore.StartRead(out var context, path, &init);
        using (context)
        {
            if (rc != 0)
            {
                throw new ExrFormatException(path, $"not a readable OpenEXR file: {OpenExrCore.Describe(rc)}");
            }

            Check(path, OpenExrCore.GetCount(context, out var count), "the part count");
            var parts = new List<ExrPart>(count);
            long budget = ExrFile.ExpansionSlack + (ExrFile.MaxExpansion * fileBytes);
            for (var part = 0; part < count; part++)
            {
                var header = ReadHeader(path, context, part);
                if (!pixels)
                {
                    parts.Add(header);
                    continue;
                }

                var samples = header.DataWindow.Width * header.DataWindow.Height * header.Channels.Count;
                budget -= samples * sizeof(float);
                if (samples > ExrFile.MaxSamples)
                {
                    throw new ExrFormatException(path, $"part {Label(header, part)} is too large to decode: {header.DataWindow.Width}x{header.DataWindow.Height} with {header.Channels.Count} channels is over {ExrFile.MaxSamples} samples; crop it or split it into parts");
                }

                if (budget < 0)
                {
                    // What the header claims is not allocated until the file could plausibly hold it: hostile headers
                    // otherwise turn a few bytes into gigabytes.
                    throw new ExrFormatException(path, $"part {Label(header, part)} claims {header.DataWindow.Width}x{header.DataWindow.Height} with {header.Channels.Count} channels, more than a {fileBytes}-byte file can hold; the file is truncated or its dataWindow is damaged");
                }

                parts.Add(ReadPixels(path, context, part, header));
            }

            return new ExrImage(parts);
        }
    }

    private static ExrPart ReadHeader(string path, ExrContextHandle context, int part)
    {
        Check(path, OpenExrCore.GetStorage(context, part, out var storage), $"the storage type of part {part}");
        if (storage is not (OpenExrCore.StorageScanline or OpenExrCore.StorageTiled))
        {
            throw new ExrFormatException(path, $"part {part} holds deep data (storage type {storage}), which is not supported: flatten it (e.g. oiiotool --flatten)");
        }

        // Single-part files usually have no name attribute; the library answers "no attribute by that name".
        var name = OpenExrCore.GetName(context, part, out var namePtr) == 0 && namePtr != null ? Marshal.PtrToStringUTF8((nint)namePtr) : null;
        OpenExrCore.ClearError();
        Check(path, OpenExrCore.GetDataWindow(context, part, out var data), $"the dataWindow of part {part}");
        Check(path, OpenExrCore.GetDisplayWindow(context, part, out var display), $"the displayWindow of part {part}");
        Check(path, OpenExrCore.GetCompression(context, part, out var compression), $"the compression of part {part}");
        Check(path, OpenExrCore.GetChannels(context, part, out var list), $"the channels of part {part}");
        if (list == null || list->NumChannels <= 0)
        {
            throw new ExrFormatException(path, $"part {part} has no channels");
        }

        var channels = new List<ExrChannel>(list->NumChannels);
        for (var i = 0; i < list->NumChannels; i++)
        {
            var entry = list->Entries[i];
            var channelName = Marshal.PtrToStringUTF8((nint)entry.Name.Str, entry.Name.Length);
            channels.Add(new ExrChannel(channelName, (ExrPixelType)entry.PixelType, entry.XSampling, entry.YSampling));
        }

        ExrTiling? tiling = null;
        if (storage == OpenExrCore.StorageTiled)
        {
            Check(path, OpenExrCore.GetTileDescriptor(context, part, out var tx, out var ty, out _, out _), $"the tile description of part {part}");
            tiling = new ExrTiling((int)tx, (int)ty);
        }

        if (!Enum.IsDefined((ExrCompression)compression))
        {
            throw new ExrFormatException(path, $"part {part} uses compression {compression}, which this OpenEXR library does not know");
        }

        return new ExrPart(name, ToBox(data), ToBox(display), channels, (ExrCompression)compression, tiling, attributes: ReadAttributes(path, context, part));
    }

    /// <summary>The part's other attributes of the types <see cref="ExrAttributeType"/> lists, in file order; the rest are left out.</summary>
    private static List<ExrAttribute> ReadAttributes(string path, ExrContextHandle context, int part)
    {
        Check(path, OpenExrCore.GetAttributeCount(context, part, out var count), $"the attribute count of part {part}");
        var attributes = new List<ExrAttribute>();
        for (var i = 0; i < count; i++)
        {
            OpenExrCore.ClearError();
            Check(path, OpenExrCore.GetAttributeByIndex(context, part, 0, i, out var attribute), $"attribute {i} of part {part}");
            if (attribute == null || attribute->Name == null)
            {
                continue;
            }

            var name = Marshal.PtrToStringUTF8((nint)attribute->Name) ?? string.Empty;
            if (name.Length == 0 || ExrAttribute.Reserved.Contains(name) || attributes.Any(a => a.Name == name))
            {
                continue;
            }

            if (ToAttribute(name, attribute) is { } value)
            {
                attributes.Add(value);
            }
        }

        return attributes;
    }

    private static ExrAttribute? ToAttribute(string name, ExrNativeAttribute* attribute)
    {
        var value = attribute->Value;
        switch (attribute->Type)
        {
            case 19: // EXR_ATTR_STRING
                var text = (ExrNativeString*)value.Pointer;
                return text == null || text->Length < 0 || (text->Str == null && text->Length > 0)
                    ? null
                    : ExrAttribute.String(name, text->Length == 0 ? string.Empty : Marshal.PtrToStringUTF8((nint)text->Str, text->Length));
            case 10: // EXR_ATTR_INT
                return ExrAttribute.Of(name, ExrAttributeType.Int, value.Int);
            case 8: // EXR_ATTR_FLOAT
                return ExrAttribute.Of(name, ExrAttributeType.Float, value.Float);
            case 6: // EXR_ATTR_DOUBLE
                return ExrAttribute.Of(name, ExrAttributeType.Double, value.Double);
        }

        (ExrAttributeType Type, bool Ints)? layout = attribute->Type switch
        {
            1 => (ExrAttributeType.Box2i, true),
            2 => (ExrAttributeType.Box2f, false),
            4 => (ExrAttributeType.Chromaticities, false),
            13 => (ExrAttributeType.M33f, false),
            15 => (ExrAttributeType.M44f, false),
            23 => (ExrAttributeType.V2i, true),
            24 => (ExrAttributeType.V2f, false),
            26 => (ExrAttributeType.V3i, true),
            27 => (ExrAttributeType.V3f, false),
            _ => null,
        };
        if (layout is not { } l || value.Pointer == null)
        {
            return null;
        }

        var numbers = new double[ExrAttribute.CountOf(l.Type)];
        for (var k = 0; k < numbers.Length; k++)
        {
            numbers[k] = l.Ints ? ((int*)value.Pointer)[k] : ((float*)value.Pointer)[k];
        }

        return ExrAttribute.Of(name, l.Type, numbers);
    }

    private static ExrPart ReadPixels(string path, ExrContextHandle context, int part, ExrPart header)
    {
        foreach (var c in header.Channels)
        {
            if (c.XSampling != 1 || c.YSampling != 1)
            {
                throw new ExrFormatException(path, $"channel {c.Name} of part {Label(header, part)} is subsampled ({c.XSampling}x{c.YSampling}), which is not supported: write full-resolution channels");
            }
        }

        if (ExrFile.Unsupported(header.Compression, header.Channels, writing: false) is { } why)
        {
            throw new ExrFormatException(path, $"part {Label(header, part)}: {why}");
        }

        int width = header.Width, height = header.Height;
        var planes = new float[header.Channels.Count][];
        for (var i = 0; i < planes.Length; i++)
        {
            // On the pinned heap: the decoder writes straight into the planes across many native calls.
            planes[i] = GC.AllocateArray<float>(width * height, pinned: true);
        }

        var decode = (ExrDecodePipeline*)NativeMemory.AllocZeroed((nuint)sizeof(ExrDecodePipeline));
        var first = true;
        try
        {
            foreach (var (x0, y0, info) in Chunks(path, context, part, header))
            {
                var chunk = info;
                OpenExrCore.ClearError();
                var rc = first
                    ? OpenExrCore.DecodingInitialize(context, part, &chunk, decode)
                    : OpenExrCore.DecodingUpdate(context, part, &chunk, decode);
                Check(path, rc, $"the chunk at ({x0},{y0}) of part {Label(header, part)}");
                PointChannels(path, decode, header, planes, x0, y0, width, chunk);
                if (first)
                {
                    OpenExrCore.ClearError();
                    Check(path, OpenExrCore.DecodingChooseDefaultRoutines(context, part, decode), $"a decoder for part {Label(header, part)}");
                    first = false;
                }

                OpenExrCore.ClearError();
                Check(path, OpenExrCore.DecodingRun(context, part, decode), $"the chunk at ({x0},{y0}) of part {Label(header, part)} (damaged data)");
            }
        }
        finally
        {
            if (!first)
            {
                OpenExrCore.DecodingDestroy(context, decode);
            }

            NativeMemory.Free(decode);
        }

        return header.With(planes);
    }

    /// <summary>Every chunk of level 0 with its top-left corner relative to the data window, in file order of the grid.</summary>
    private static IEnumerable<(int X, int Y, ExrChunkInfo Info)> Chunks(string path, ExrContextHandle context, int part, ExrPart header)
    {
        int width = header.Width, height = header.Height;
        if (header.Tiling is { } tiling)
        {
            for (var ty = 0; (long)ty * tiling.TileHeight < height; ty++)
            {
                for (var tx = 0; (long)tx * tiling.TileWidth < width; tx++)
                {
                    yield return (tx * tiling.TileWidth, ty * tiling.TileHeight, TileInfo(path, context, part, tx, ty));
                }
            }

            yield break;
        }

        Check(path, OpenExrCore.GetScanlinesPerChunk(context, part, out var lines), $"the scanlines per chunk of part {part}");
        if (lines <= 0)
        {
            throw new ExrFormatException(path, $"part {part} says {lines} scanlines per chunk");
        }

        for (long y = 0; y < height; y += lines)
        {
            yield return (0, (int)y, ScanlineInfo(path, context, part, (int)(header.DataWindow.MinY + y)));
        }
    }

    private static ExrChunkInfo TileInfo(string path, ExrContextHandle context, int part, int tx, int ty)
    {
        ExrChunkInfo info;
        OpenExrCore.ClearError();
        Check(path, OpenExrCore.ReadTileChunkInfo(context, part, tx, ty, 0, 0, &info), $"tile ({tx},{ty}) of part {part}");
        return info;
    }

    private static ExrChunkInfo ScanlineInfo(string path, ExrContextHandle context, int part, int y)
    {
        ExrChunkInfo info;
        OpenExrCore.ClearError();
        Check(path, OpenExrCore.ReadScanlineChunkInfo(context, part, y, &info), $"the scanline chunk at y={y} of part {part}");
        return info;
    }

    /// <summary>Points each decoded channel at its place in its plane: float samples, planar, one data-window row per line.</summary>
    private static void PointChannels(string path, ExrDecodePipeline* decode, ExrPart header, float[][] planes, int x0, int y0, int width, ExrChunkInfo chunk)
    {
        if (chunk.Width <= 0 || chunk.Height <= 0 || x0 + (long)chunk.Width > width || y0 + (long)chunk.Height > header.Height)
        {
            throw new ExrFormatException(path, $"the chunk at ({x0},{y0}) of part {header.Name ?? "0"} is {chunk.Width}x{chunk.Height}, outside the {header.Width}x{header.Height} data window");
        }

        for (var i = 0; i < decode->ChannelCount; i++)
        {
            var channel = &decode->Channels[i];
            var name = Marshal.PtrToStringUTF8((nint)channel->ChannelName) ?? string.Empty;
            var index = IndexOf(header, name);
            if (index < 0)
            {
                throw new ExrFormatException(path, $"the decoder reports a channel {name} that the header does not list");
            }

            channel->Data = (byte*)Address(planes[index]) + ((((long)y0 * width) + x0) * sizeof(float));
            channel->UserBytesPerElement = sizeof(float);
            channel->UserDataType = OpenExrCore.PixelFloat;
            channel->UserPixelStride = sizeof(float);
            channel->UserLineStride = width * sizeof(float);
        }
    }

    private static int IndexOf(ExrPart header, string name)
    {
        for (var i = 0; i < header.Channels.Count; i++)
        {
            if (string.Equals(header.Channels[i].Name, name, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>The address of a plane allocated on the pinned object heap (it never moves).</summary>
    internal static nint Address(float[] plane) => (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(plane));

    private static void Check(string path, int rc, string what)
    {
        if (rc != 0)
        {
            throw new ExrFormatException(path, $"cannot read {what}: {OpenExrCore.Describe(rc)}");
        }
    }

    private static string Label(ExrPart header, int part) => header.Name is { } name ? $"{part} ({name})" : part.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static ExrBox ToBox(ExrNativeBox b) => new(b.MinX, b.MinY, b.MaxX, b.MaxY);
}
