using RMTC.Farm.Core.Datasets;
using RMTC.Farm.Core.Images;
using RMTC.Farm.Core.Weights;

namespace RMTC.Farm.Inference.Runtime;

/// <summary>One model input read from a file: a PNG image, or a safetensors sample like the training data's.</summary>
/// <param name="Values">Float32 values, row-major.</param>
/// <param name="Shape">[batch, channels, height, width].</param>
public sealed record InferenceInput(float[] Values, long[] Shape)
{
    /// <summary>
    /// Reads <paramref name="path"/> for a model whose samples have <paramref name="channels"/> channels: a <c>.png</c>
    /// (values scaled to [0, 1]; alpha dropped, grey repeated for RGB models) or a <c>.safetensors</c> file holding
    /// an F32 tensor <c>input</c> of shape [C, H, W] or [N, C, H, W]. Throws <see cref="InvalidDataException"/> naming the problem.
    /// </summary>
    public static InferenceInput Read(string path, int channels)
    {
        var extension = Path.GetExtension(path).ToLowerInvariant();
        return extension switch
        {
            ".png" => FromImage(ReadPng(path), channels, path),
            ".safetensors" => FromSafetensors(path, channels),
            _ => throw new InvalidDataException($"{path}: unknown input type '{extension}' (use .png images or .safetensors samples with an 'input' tensor)"),
        };
    }

    private static PlanarImage ReadPng(string path)
    {
        try
        {
            return Png.ReadPlanesFile(path);
        }
        catch (PngFormatException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    private static InferenceInput FromImage(PlanarImage image, int channels, string path)
    {
        var plane = image.Width * image.Height;
        var values = new float[channels * plane];
        // Which image channel feeds each model channel: alpha is never an input; grey feeds all of RGB.
        int[] map = (image.Channels, channels) switch
        {
            (var same, var c) when same == c => Enumerable.Range(0, c).ToArray(),
            (4, 3) => [0, 1, 2],
            (1 or 2, 3) => [0, 0, 0],
            (2, 1) => [0],
            _ => throw new InvalidDataException($"{path}: a {image.Channels}-channel image cannot feed a model that takes {channels} channels"),
        };
        for (var c = 0; c < channels; c++)
        {
            image.Planes.AsSpan(map[c] * plane, plane).CopyTo(values.AsSpan(c * plane));
        }

        return new InferenceInput(values, [1, channels, image.Height, image.Width]);
    }

    private static InferenceInput FromSafetensors(string path, int channels)
    {
        var (tensors, _) = Safetensors.ReadFile(path);
        var input = tensors.FirstOrDefault(t => t.Name == DatasetKinds.InputTensor)
            ?? throw new InvalidDataException($"{path}: no tensor named '{DatasetKinds.InputTensor}' (has {string.Join(", ", tensors.Select(t => t.Name))})");
        var shape = input.Shape.Length switch
        {
            3 => [1, .. input.Shape],
            4 => input.Shape,
            _ => throw new InvalidDataException($"{path}: tensor '{input.Name}' has shape [{string.Join(", ", input.Shape)}]; expected [C, H, W] or [N, C, H, W]"),
        };
        if (input.DType != TensorDType.F32 || shape[1] != channels)
        {
            throw new InvalidDataException($"{path}: tensor '{input.Name}' is {input}; the model takes F32 with {channels} channels");
        }

        return new InferenceInput(input.AsFloat32().ToArray(), shape);
    }
}
