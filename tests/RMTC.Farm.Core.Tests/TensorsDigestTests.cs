using RMTC.Farm.Core.Digests;
using RMTC.Farm.Core.Weights;

namespace RMTC.Farm.Core.Tests;

public sealed class TensorsDigestTests
{
    private static List<NamedTensor> Model() =>
    [
        NamedTensor.FromFloats("fc.weight", [2, 3], [1f, -2f, 3.5f, 0f, 0.25f, -0f]),
        NamedTensor.FromFloats("fc.bias", [2], [0.5f, -0.5f]),
        new NamedTensor("steps", TensorDType.I64, [1], new byte[8]),
        NamedTensor.FromFloats("層.重み", [], [42f]),
    ];

    [Fact]
    public void Metadata_and_tensor_order_change_the_file_digest_but_not_the_tensors_digest()
    {
        var dir = TestFiles.TempDir();
        try
        {
            var model = Model();
            var a = Safetensors.WriteFile(Path.Combine(dir, "a"), model, new Dictionary<string, string> { ["rmtc.run"] = "run-aaa" });
            var reordered = model.AsEnumerable().Reverse().ToList();
            var b = Safetensors.WriteFile(Path.Combine(dir, "b"), reordered, new Dictionary<string, string> { ["rmtc.run"] = "run-bbb", ["rmtc.round"] = "2" });

            Assert.NotEqual(a, b);
            var digest = TensorsDigest.Of(model);
            Assert.True(Sha256Digest.IsValid(digest));
            Assert.Equal(digest, TensorsDigest.Of(reordered));
            Assert.Equal(digest, TensorsDigest.OfFile(Path.Combine(dir, "a")));
            Assert.Equal(digest, TensorsDigest.OfFile(Path.Combine(dir, "b")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Any_change_to_a_name_dtype_shape_or_byte_changes_the_tensors_digest()
    {
        var digest = TensorsDigest.Of(Model());
        var variants = new List<List<NamedTensor>>
        {
            Model().Select(t => t.Name == "fc.bias" ? NamedTensor.FromFloats("fc.biaz", [2], [0.5f, -0.5f]) : t).ToList(),
            Model().Select(t => t.Name == "steps" ? new NamedTensor("steps", TensorDType.F64, [1], new byte[8]) : t).ToList(),
            Model().Select(t => t.Name == "fc.weight" ? NamedTensor.FromFloats("fc.weight", [3, 2], [1f, -2f, 3.5f, 0f, 0.25f, -0f]) : t).ToList(),
            // -0 and +0 are equal floats but different bytes: the digest is of the bytes.
            Model().Select(t => t.Name == "fc.weight" ? NamedTensor.FromFloats("fc.weight", [2, 3], [1f, -2f, 3.5f, 0f, 0.25f, 0f]) : t).ToList(),
            Model().Where(t => t.Name != "steps").ToList(),
        };

        Assert.All(variants, v => Assert.NotEqual(digest, TensorsDigest.Of(v)));
        Assert.Equal(variants.Count, variants.Select(TensorsDigest.Of).Distinct().Count());
    }

    [Fact]
    public void A_truncated_file_is_refused()
    {
        var dir = TestFiles.TempDir();
        try
        {
            var path = Path.Combine(dir, "m");
            Safetensors.WriteFile(path, Model());
            var bytes = File.ReadAllBytes(path);
            File.WriteAllBytes(path, bytes[..^4]);
            Assert.Throws<SafetensorsFormatException>(() => TensorsDigest.OfFile(path));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
