using System.Runtime.InteropServices;

namespace RMTC.Farm.Core.Images.Exr;

/// <summary>Writes parts through OpenEXRCore's encode pipeline: planar float in, each channel stored as its declared pixel type.</summary>
internal static unsafe class ExrWriter
{
    public static void Write(string path, ExrImage image, Func<ExrPart, (ExrCompression Compression, ExrTiling? Tiling)> layout)
    {
        Validate(path, image);
        foreach (var part in image.Parts)
        {
            if (ExrFile.Unsupported(layout(part).Compression, part.Channels, writing: true) is { } why)
            {
                throw new NotSupportedException($"{path}: part {part.Name ?? "(unnamed)"}: {why}");
            }
        }

        var init = ExrFile.Initializer();
        OpenExrCore.ClearError();
        // Through a temporary file renamed at the end: a failed write leaves any earlier file in place.
        var rc = OpenExrCore.StartWrite(out var context, path, OpenExrCore.WriteViaTempFile, &init);
        using (context)
        {
            Check(path, rc, "open the file for writing");
            // Renderers name attributes and channels past the 31 bytes of EXR 1.x (Blender's
            // cycles.ViewLayer.synchronization_time): such names need the file's long-names flag, which readers since 1.7 know.
            if (NeedsLongNames(image))
            {
                OpenExrCore.ClearError();
                Check(path, OpenExrCore.SetLongNameSupport(context, 1), "allow names longer than 31 bytes");
            }

            var indices = new int[image.Parts.Count];
            for (var p = 0; p < image.Parts.Count; p++)
            {
                indices[p] = DefinePart(path, context, image.Parts[p], layout(image.Parts[p]));
            }

            OpenExrCore.ClearError();
            Check(path, OpenExrCore.WriteHeader(context), "write the header");
            for (var p = 0; p < image.Parts.Count; p++)
            {
                WritePixels(path, context, indices[p], image.Parts[p], layout(image.Parts[p]).Tiling);
            }

            OpenExrCore.ClearError();
            Check(path, context.Finish(), "finish the file");
        }
    }

    private const int ShortNameBytes = 31;

    private static bool NeedsLongNames(ExrImage image) => image.Parts.Any(part =>
        System.Text.Encoding.UTF8.GetByteCount(part.Name ?? string.Empty) > ShortNameBytes
        || part.Channels.Any(c => System.Text.Encoding.UTF8.GetByteCount(c.Name) > ShortNameBytes)
        || part.Attributes.Any(a => System.Text.Encoding.UTF8.GetByteCount(a.Name) > ShortNameBytes));

    private static void Validate(string path, ExrImage image)
    {
        if (image.Parts.Count == 0)
        {
            throw new ArgumentException($"{path}: an EXR file needs at least one part", nameof(image));
        }

        if (image.Parts.Count > 1)
        {
            var names = image.Parts.Select(p => p.Name).ToList();
            if (names.Any(string.IsNullOrEmpty) || names.Distinct(StringComparer.Ordinal).Count() != names.Count)
            {
                throw new ArgumentException($"{path}: every part of a multi-part file needs a name of its own (got {string.Join(", ", names.Select(n => n ?? "(none)"))})", nameof(image));
            }

            // OpenEXR's readers refuse multi-part files whose parts disagree on the shared attributes (displayWindow among them).
            if (image.Parts.Select(p => p.DisplayWindow).Distinct().Count() != 1)
            {
                throw new ArgumentException($"{path}: the parts of a multi-part file must share one displayWindow (got {string.Join(", ", image.Parts.Select(p => p.DisplayWindow))})", nameof(image));
            }
        }

        foreach (var part in image.Parts)
        {
            var label = part.Name ?? "(unnamed)";
            if (part.DataWindow.Width < 1 || part.DataWindow.Height < 1 || part.DisplayWindow.Width < 1 || part.DisplayWindow.Height < 1)
            {
                throw new ArgumentException($"{path}: part {label} has an empty window (data {part.DataWindow}, display {part.DisplayWindow})", nameof(image));
            }

            if (part.Channels.Count == 0 || part.Channels.Select(c => c.Name).Distinct(StringComparer.Ordinal).Count() != part.Channels.Count)
            {
                throw new ArgumentException($"{path}: part {label} needs at least one channel and distinct channel names", nameof(image));
            }

            if (part.Channels.FirstOrDefault(c => c.XSampling != 1 || c.YSampling != 1) is { } sampled)
            {
                throw new ArgumentException($"{path}: channel {sampled.Name} of part {label} is subsampled; only full-resolution channels are written", nameof(image));
            }

            var expected = part.DataWindow.Width * part.DataWindow.Height;
            if (part.Pixels is null || part.Pixels.Any(plane => plane.LongLength != expected))
            {
                throw new ArgumentException($"{path}: part {label} needs one array of {expected} samples ({part.DataWindow.Width}x{part.DataWindow.Height}) per channel", nameof(image));
            }
        }
    }

    private static int DefinePart(string path, ExrContextHandle context, ExrPart part, (ExrCompression Compression, ExrTiling? Tiling) layout)
    {
        OpenExrCore.ClearError();
        var storage = layout.Tiling is null ? OpenExrCore.StorageScanline : OpenExrCore.StorageTiled;
        Check(path, OpenExrCore.AddPart(context, part.Name, storage, out var index), $"add part {part.Name}");
        var display = ToNative(part.DisplayWindow);
        var data = ToNative(part.DataWindow);
        var center = default(ExrNativeV2f);
        OpenExrCore.ClearError();
        Check(path, OpenExrCore.InitializeRequiredAttributes(context, index, &display, &data, 1f, &center, 1f, 0, (int)layout.Compression), $"set the header of part {part.Name}");
        foreach (var channel in part.Channels)
        {
            OpenExrCore.ClearError();
            Check(path, OpenExrCore.AddChannel(context, index, channel.Name, (int)channel.Type, 0, 1, 1), $"add channel {channel.Name}");
        }

        if (layout.Tiling is { } tiling)
        {
            OpenExrCore.ClearError();
            Check(path, OpenExrCore.SetTileDescriptor(context, index, (uint)tiling.TileWidth, (uint)tiling.TileHeight, 0, 0), $"set the tile size of part {part.Name}");
        }

        foreach (var attribute in part.Attributes)
        {
            OpenExrCore.ClearError();
            Check(path, SetAttribute(context, index, attribute), $"set attribute {attribute.Name} of part {part.Name}");
        }

        return index;
    }

    private static int SetAttribute(ExrContextHandle context, int index, ExrAttribute a)
    {
        switch (a.Type)
        {
            case ExrAttributeType.String:
                return OpenExrCore.SetString(context, index, a.Name, a.Text ?? string.Empty);
            case ExrAttributeType.Int:
                return OpenExrCore.SetInt(context, index, a.Name, checked((int)a.Numbers[0]));
            case ExrAttributeType.Float:
                return OpenExrCore.SetFloat(context, index, a.Name, (float)a.Numbers[0]);
            case ExrAttributeType.Double:
                return OpenExrCore.SetDouble(context, index, a.Name, a.Numbers[0]);
            case ExrAttributeType.V2i or ExrAttributeType.V3i or ExrAttributeType.Box2i:
                var ints = stackalloc int[a.Numbers.Count];
                for (var k = 0; k < a.Numbers.Count; k++)
                {
                    ints[k] = checked((int)a.Numbers[k]);
                }

                return OpenExrCore.SetStruct(context, index, a.Name, a.Type, ints);
            default:
                var floats = stackalloc float[a.Numbers.Count];
                for (var k = 0; k < a.Numbers.Count; k++)
                {
                    floats[k] = (float)a.Numbers[k];
                }

                return OpenExrCore.SetStruct(context, index, a.Name, a.Type, floats);
        }
    }

    private static void WritePixels(string path, ExrContextHandle context, int index, ExrPart part, ExrTiling? tiling)
    {
        var handles = part.Pixels!.Select(plane => GCHandle.Alloc(plane, GCHandleType.Pinned)).ToArray();
        var encode = (ExrEncodePipeline*)NativeMemory.AllocZeroed((nuint)sizeof(ExrEncodePipeline));
        var first = true;
        try
        {
            foreach (var (x0, y0, tx, ty) in Grid(path, context, index, part, tiling))
            {
                ExrChunkInfo chunk;
                OpenExrCore.ClearError();
                var rc = tiling is null
                    ? OpenExrCore.WriteScanlineChunkInfo(context, index, (int)(part.DataWindow.MinY + y0), &chunk)
                    : OpenExrCore.WriteTileChunkInfo(context, index, tx, ty, 0, 0, &chunk);
                Check(path, rc, $"start the chunk at ({x0},{y0}) of part {part.Name}");
                OpenExrCore.ClearError();
                rc = first ? OpenExrCore.EncodingInitialize(context, index, &chunk, encode) : OpenExrCore.EncodingUpdate(context, index, &chunk, encode);
                Check(path, rc, $"prepare the chunk at ({x0},{y0}) of part {part.Name}");
                for (var i = 0; i < encode->ChannelCount; i++)
                {
                    var channel = &encode->Channels[i];
                    var name = Marshal.PtrToStringUTF8((nint)channel->ChannelName);
                    var c = 0;
                    while (!string.Equals(part.Channels[c].Name, name, StringComparison.Ordinal))
                    {
                        c++;
                    }

                    channel->Data = (byte*)handles[c].AddrOfPinnedObject() + ((((long)y0 * part.Width) + x0) * sizeof(float));
                    channel->UserBytesPerElement = sizeof(float);
                    channel->UserDataType = OpenExrCore.PixelFloat;
                    channel->UserPixelStride = sizeof(float);
                    channel->UserLineStride = part.Width * sizeof(float);
                }

                if (first)
                {
                    OpenExrCore.ClearError();
                    Check(path, OpenExrCore.EncodingChooseDefaultRoutines(context, index, encode), $"choose an encoder for part {part.Name}");
                    first = false;
                }

                OpenExrCore.ClearError();
                Check(path, OpenExrCore.EncodingRun(context, index, encode), $"write the chunk at ({x0},{y0}) of part {part.Name}");
            }
        }
        finally
        {
            if (!first)
            {
                OpenExrCore.EncodingDestroy(context, encode);
            }

            NativeMemory.Free(encode);
            foreach (var handle in handles)
            {
                handle.Free();
            }
        }
    }

    /// <summary>Chunk corners relative to the data window (and tile indices), in the increasing-y order the file declares.</summary>
    private static IEnumerable<(int X, int Y, int TileX, int TileY)> Grid(string path, ExrContextHandle context, int index, ExrPart part, ExrTiling? tiling)
    {
        if (tiling is not null)
        {
            for (var ty = 0; ty * tiling.TileHeight < part.Height; ty++)
            {
                for (var tx = 0; tx * tiling.TileWidth < part.Width; tx++)
                {
                    yield return (tx * tiling.TileWidth, ty * tiling.TileHeight, tx, ty);
                }
            }

            yield break;
        }

        OpenExrCore.ClearError();
        Check(path, OpenExrCore.GetScanlinesPerChunk(context, index, out var lines), $"the scanlines per chunk of part {part.Name}");
        for (var y = 0; y < part.Height; y += lines)
        {
            yield return (0, y, 0, 0);
        }
    }

    private static void Check(string path, int rc, string what)
    {
        if (rc != 0)
        {
            throw new ExrFormatException(path, $"cannot {what}: {OpenExrCore.Describe(rc)}");
        }
    }

    private static ExrNativeBox ToNative(ExrBox b) => new() { MinX = b.MinX, MinY = b.MinY, MaxX = b.MaxX, MaxY = b.MaxY };
}
