using System.Buffers.Binary;
using System.Text;
using RMTC.Farm.Core.Digests;
using RMTC.Farm.Core.Weights;

namespace RMTC.Farm.Core.Tests;

public sealed class SafetensorsTests
{
    private static NamedTensor RandomTensor(Random rng, string name, TensorDType dtype, params long[] shape)
    {
        long count = 1;
        foreach (long d in shape)
        {
            count *= d;
        }

        var data = new byte[count * dtype.SizeInBytes()];
        rng.NextBytes(data);
        return new NamedTensor(name, dtype, shape, data);
    }

    private static List<NamedTensor> SampleTensors()
    {
        var rng = new Random(1234);
        return
        [
            RandomTensor(rng, "f64", TensorDType.F64, 3, 2),
            NamedTensor.FromFloats("f32", [2, 3], [1f, -2f, 3.5f, float.MaxValue, float.Epsilon, 0f]),
            RandomTensor(rng, "f16", TensorDType.F16, 5),
            RandomTensor(rng, "bf16", TensorDType.BF16, 2, 2, 2),
            RandomTensor(rng, "i64", TensorDType.I64, 1),
            RandomTensor(rng, "i32", TensorDType.I32, 4),
            RandomTensor(rng, "i16", TensorDType.I16, 3),
            RandomTensor(rng, "i8", TensorDType.I8, 7),
            RandomTensor(rng, "u8", TensorDType.U8, 1, 9),
            new NamedTensor("bool", TensorDType.BOOL, [3], [1, 0, 1]),
            NamedTensor.FromFloats("scalar", [], [42.5f]),
            new NamedTensor("empty", TensorDType.F32, [0, 3], []),
            NamedTensor.FromFloats("層.重み/café", [2], [7f, 8f]),
        ];
    }

    private static void AssertSame(IReadOnlyList<NamedTensor> expected, IReadOnlyList<NamedTensor> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Name, actual[i].Name);
            Assert.Equal(expected[i].DType, actual[i].DType);
            Assert.Equal(expected[i].Shape, actual[i].Shape);
            Assert.Equal(expected[i].Data, actual[i].Data);
        }
    }

    private static List<NamedTensor> ReadAll(byte[] file, out SafetensorsHeader header)
    {
        using var ms = new MemoryStream(file);
        header = Safetensors.ReadHeader(ms, ms.Length);
        Assert.Equal(header.DataStart, ms.Position);
        var result = new List<NamedTensor>();
        foreach (var e in header.Tensors)
        {
            var data = file.AsSpan((int)(header.DataStart + e.Begin), (int)(e.End - e.Begin)).ToArray();
            result.Add(new NamedTensor(e.Name, e.DType, e.Shape, data));
        }

        return result;
    }

    [Fact]
    public void RoundTrip_AllDTypes_ScalarEmptyUnicodeAndMetadata()
    {
        var tensors = SampleTensors();
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcode ✓", ["empty"] = "" };
        using var ms = new MemoryStream();
        Safetensors.Write(ms, tensors, metadata);
        byte[] file = ms.ToArray();

        var read = ReadAll(file, out var header);
        AssertSame(tensors, read);
        Assert.Equal(metadata.OrderBy(kv => kv.Key), header.Metadata.OrderBy(kv => kv.Key));
        Assert.Equal(file.Length - header.DataStart, header.DataLength);
        Assert.Equal(42.5f, read.Single(t => t.Name == "scalar").AsFloat32()[0]);
        Assert.Equal(1, read.Single(t => t.Name == "scalar").ElementCount);
        Assert.Equal(0, read.Single(t => t.Name == "empty").ElementCount);
        Assert.NotNull(header.Find("層.重み/café"));
        Assert.Null(header.Find("nope"));
    }

    [Fact]
    public void Header_IsPaddedWithSpaces_AndLengthCountsUtf8Bytes()
    {
        using var ms = new MemoryStream();
        Safetensors.Write(ms, [NamedTensor.FromFloats("層", [1], [1f])]);
        byte[] file = ms.ToArray();
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(file);
        Assert.Equal(0UL, (8 + n) % 8);
        Assert.Equal(file.Length, (int)(8 + n + 4));

        string header = Encoding.UTF8.GetString(file, 8, (int)n);
        // The name is stored raw (3 UTF-8 bytes, 1 UTF-16 char), so a char-count length would be wrong.
        Assert.Contains("\"層\"", header);
        Assert.NotEqual((int)n, header.Length);
        string trimmed = header.TrimEnd(' ');
        Assert.EndsWith("}", trimmed);
        Assert.True(header.Length - trimmed.Length < 8);

        var read = ReadAll(file, out _);
        Assert.Equal("層", read[0].Name);
    }

    [Fact]
    public void TinyFile_HasTheExactBytesOfTheSpec()
    {
        using var ms = new MemoryStream();
        Safetensors.Write(ms, [NamedTensor.FromFloats("a", [2], [1f, -2f])], new Dictionary<string, string> { ["k"] = "v" });
        byte[] file = ms.ToArray();

        string json = "{\"__metadata__\":{\"k\":\"v\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        int padded = (json.Length + 7) / 8 * 8;
        var expected = new List<byte>();
        expected.AddRange(BitConverter.GetBytes((ulong)padded)); // little-endian on every supported host
        expected.AddRange(Encoding.ASCII.GetBytes(json.PadRight(padded, ' ')));
        expected.AddRange([0x00, 0x00, 0x80, 0x3F]); // 1.0f
        expected.AddRange([0x00, 0x00, 0x00, 0xC0]); // -2.0f
        Assert.Equal(expected.ToArray(), file);
    }

    [Fact]
    public void WriteFile_IsAtomicAndReturnsTheDigestOfTheFile()
    {
        string dir = TestFiles.TempDir();
        try
        {
            string path = Path.Combine(dir, "w.safetensors");
            File.WriteAllText(path, "old content");
            var tensors = SampleTensors();
            string digest = Safetensors.WriteFile(path, tensors, new Dictionary<string, string> { ["round"] = "3" });

            Assert.True(Sha256Digest.IsValid(digest));
            Assert.Equal(Sha256Digest.OfFile(path), digest);
            Assert.Equal(Sha256Digest.OfBytes(File.ReadAllBytes(path)), digest);
            Assert.Single(Directory.GetFiles(dir));

            var (read, metadata) = Safetensors.ReadFile(path);
            AssertSame(tensors, read);
            Assert.Equal("3", metadata["round"]);

            // Same inputs, same bytes.
            string again = Safetensors.WriteFile(Path.Combine(dir, "w2.safetensors"), tensors, new Dictionary<string, string> { ["round"] = "3" });
            Assert.Equal(digest, again);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Reader_OrdersTensorsByOffset()
    {
        string json = "{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,8]}}";
        using var ms = new MemoryStream(TestFiles.Raw(json, 8));
        var header = Safetensors.ReadHeader(ms, ms.Length);
        Assert.Equal(["a", "b", "e"], header.Tensors.Select(t => t.Name));
        Assert.Empty(header.Metadata);
        Assert.Equal(8, header.DataLength);
    }

    [Fact]
    public void Writer_RefusesDuplicateNames()
    {
        using var ms = new MemoryStream();
        var e = Assert.Throws<ArgumentException>(() =>
            Safetensors.Write(ms, [NamedTensor.FromFloats("x", [1], [1f]), NamedTensor.FromFloats("x", [1], [2f])]));
        Assert.Contains("duplicate", e.Message);
    }

    [Fact]
    public void NamedTensor_RefusesDataOfTheWrongSize()
    {
        var e = Assert.Throws<ArgumentException>(() => new NamedTensor("t", TensorDType.F32, [2, 2], new byte[12]));
        Assert.Contains("16", e.Message);
        Assert.Throws<ArgumentException>(() => new NamedTensor("t", TensorDType.F32, [-1], []));
        Assert.Throws<InvalidOperationException>(() => new NamedTensor("t", TensorDType.U8, [1], [1]).AsFloat32());
    }

    private const string Ok = "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";

    public static TheoryData<string, byte[], string> Malformed() => new()
    {
        { "short stream", new byte[5], "shorter than" },
        { "zero header length", TestFiles.Raw([], new byte[16]), "header length is 0" },
        { "huge header length", TestFiles.Raw(Encoding.UTF8.GetBytes("{}"), [], 200_000_000), "too large" },
        { "header longer than file", TestFiles.Raw(Encoding.UTF8.GetBytes("{}"), [], 64), "larger than" },
        { "invalid json", TestFiles.Raw("{\"a\": {\"dtype\": ", 0), "not valid JSON" },
        { "json not an object", TestFiles.Raw("[1, 2]", 0), "not a JSON object" },
        { "content after the object", TestFiles.Raw("{} {}", 0), "JSON" },
        { "invalid utf-8", TestFiles.Raw([(byte)'{', (byte)'"', 0xFF, 0xFE, (byte)'"', (byte)':', (byte)'1', (byte)'}'], []), "UTF-8" },
        { "unknown dtype", TestFiles.Raw("{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2), "unknown dtype 'F8_E4M3'" },
        { "negative dim", TestFiles.Raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8), "negative" },
        { "non-integer dim", TestFiles.Raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 8), "not an integer" },
        { "begin after end", TestFiles.Raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", 8), "begin > end" },
        { "three offsets", TestFiles.Raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,9]}}", 8), "[begin, end]" },
        { "offsets not an array", TestFiles.Raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":8}}", 8), "[begin, end]" },
        { "missing dtype", TestFiles.Raw("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "missing field 'dtype'" },
        { "shape/size mismatch", TestFiles.Raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8), "size mismatch" },
        { "overlapping offsets", TestFiles.Raw("{" + Ok + ",\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12), "overlap" },
        { "gapped offsets", TestFiles.Raw("{" + Ok + ",\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]}}", 16), "gap" },
        { "not starting at zero", TestFiles.Raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8), "gap" },
        { "truncated data", TestFiles.Raw("{" + Ok + "}", 6), "truncated" },
        { "trailing data", TestFiles.Raw("{" + Ok + "}", 9), "trailing" },
        { "duplicate name", TestFiles.Raw("{" + Ok + "," + Ok + "}", 8), "duplicate tensor name 'a'" },
        { "metadata value not a string", TestFiles.Raw("{\"__metadata__\":{\"k\":1}," + Ok + "}", 8), "must be a string" },
        { "metadata not an object", TestFiles.Raw("{\"__metadata__\":[]," + Ok + "}", 8), "__metadata__" },
        { "tensor entry not an object", TestFiles.Raw("{\"a\":3}", 0), "tensor 'a'" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Reader_RefusesMalformedFiles(string what, byte[] file, string expectedInMessage)
    {
        using var ms = new MemoryStream(file);
        var e = Assert.Throws<SafetensorsFormatException>(() => Safetensors.ReadHeader(ms, ms.Length));
        Assert.True(e.Message.Contains(expectedInMessage, StringComparison.Ordinal), $"{what}: message was: {e.Message}");
    }

    [Fact]
    public void Reader_MessagesNameTheTensor()
    {
        using var ms = new MemoryStream(TestFiles.Raw("{\"weight.7\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8));
        var e = Assert.Throws<SafetensorsFormatException>(() => Safetensors.ReadHeader(ms, ms.Length));
        Assert.Contains("'weight.7'", e.Message);
        Assert.Contains("12", e.Message);
    }

    [Fact]
    public void ReadFile_RefusesATruncatedFile()
    {
        string dir = TestFiles.TempDir();
        try
        {
            string path = Path.Combine(dir, "t.safetensors");
            Safetensors.WriteFile(path, [NamedTensor.FromFloats("a", [4], [1f, 2f, 3f, 4f])]);
            byte[] bytes = File.ReadAllBytes(path);
            File.WriteAllBytes(path, bytes.AsSpan(0, bytes.Length - 3).ToArray());
            var e = Assert.Throws<SafetensorsFormatException>(() => Safetensors.ReadFile(path));
            Assert.Contains("truncated", e.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Sha256Digest_KnownValuesAndValidation()
    {
        Assert.Equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", Sha256Digest.OfBytes("abc"u8));
        Assert.True(Sha256Digest.IsValid("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
        Assert.False(Sha256Digest.IsValid("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"));
        Assert.False(Sha256Digest.IsValid("abc"));
        Assert.False(Sha256Digest.IsValid(null));
        Assert.False(Sha256Digest.IsValid(new string('g', 64)));
    }
}
