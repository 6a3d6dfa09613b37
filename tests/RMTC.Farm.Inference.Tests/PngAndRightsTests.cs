using RMTC.Farm.Core.Images;
using RMTC.Farm.Core.Rights;
using RMTC.Farm.Inference.Runtime;

namespace RMTC.Farm.Inference.Tests;

public class PngAndRightsTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void Png_round_trips_8_bit_images(int channels)
    {
        const int h = 7, w = 5;
        var planes = new float[channels * h * w];
        for (var i = 0; i < planes.Length; i++)
        {
            planes[i] = (i * 37 % 256) / 255f;
        }

        var image = Png.DecodePlanes(Png.EncodePlanes(planes, channels, h, w));
        Assert.Equal((w, h, channels), (image.Width, image.Height, image.Channels));
        Assert.Equal(planes, image.Planes);
    }

    [Fact]
    public void A_grey_png_feeds_an_rgb_model_and_a_broken_file_is_named()
    {
        using var dir = new TempDirectory();
        var path = dir.Combine("grey.png");
        Png.WritePlanesFile(path, [0f, 0.5f, 1f, 0.25f], 1, 2, 2);
        var input = InferenceInput.Read(path, channels: 3);
        Assert.Equal([1L, 3, 2, 2], input.Shape);
        Assert.Equal(input.Values[..4], input.Values[8..]);

        var broken = dir.Combine("broken.png");
        File.WriteAllBytes(broken, [1, 2, 3]);
        var e = Assert.Throws<InvalidDataException>(() => InferenceInput.Read(broken, 3));
        Assert.Contains("broken.png", e.Message);
    }

    [Theory]
    [InlineData("allowed", true)]
    [InlineData("constrained", true)]
    [InlineData("notAllowed", false)]
    public void Inference_is_refused_only_when_the_closure_forbids_it(string use, bool allowed)
    {
        var closure = new LicenceClosure
        {
            Owners = ["Studio A"],
            Rights = new(StringComparer.Ordinal) { [CawgAssertions.AiInference] = new LicenceClosureRight { Use = use, ConstraintInfo = ["internal only"] } },
        };
        var result = InferencePermission.Check(closure);
        Assert.Equal(allowed, result.Allowed);
        if (!allowed)
        {
            Assert.Contains("cawg.ai_inference: notAllowed", result.Reason);
            Assert.Contains("Studio A", result.Reason);
        }
    }
}
