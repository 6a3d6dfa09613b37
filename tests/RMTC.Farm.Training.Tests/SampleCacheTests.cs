using RMTC.Farm.Core.Datasets;
using RMTC.Farm.Training.Datasets;
using RMTC.Farm.Training.Loop;

namespace RMTC.Farm.Training.Tests;

/// <summary>A warm trainer's sample cache: the same values as the files, never more bytes than its capacity, a rewritten file read again.</summary>
public sealed class SampleCacheTests
{
    [Theory]
    [InlineData("denoiser")]
    [InlineData("classifier")]
    public void Samples_through_the_cache_are_the_values_of_their_files_and_the_cache_stays_in_bounds(string recipe)
    {
        using var dir = new TempDirectory();
        var data = dir.Combine("data");
        DatasetSynthesizer.Synthesize(recipe, data, 40, seed: 5);
        var descriptor = Dataset.ReadDescriptor(data);
        var files = Dataset.ListSamples(data);
        var direct = SampleLoader.Load(data, descriptor, files);

        // Room for about half of them: the second pass reads some from the cache and some from their files again.
        var one = new CachedSample(new float[direct.Inputs.Length / files.Count], direct.Targets is null ? null : new float[direct.Targets.Length / files.Count], 0).Bytes;
        var cache = new SampleCache(one * files.Count / 2);
        var first = SampleLoader.Load(data, descriptor, files, cache: cache);
        Assert.True(cache.Bytes <= cache.CapacityBytes, $"{cache.Bytes} bytes held, capacity {cache.CapacityBytes}");
        Assert.Equal(files.Count / 2, cache.Count);
        var second = SampleLoader.Load(data, descriptor, files.Reverse().ToList(), cache: cache);

        Assert.Equal(direct.Inputs, first.Inputs);
        Assert.Equal(direct.Targets, first.Targets);
        Assert.Equal(direct.Labels, first.Labels);
        Assert.True(cache.Hits > 0, "nothing came from the cache");
        Assert.True(cache.Bytes <= cache.CapacityBytes, $"{cache.Bytes} bytes held, capacity {cache.CapacityBytes}");
        var reversed = SampleLoader.Load(data, descriptor, files.Reverse().ToList());
        Assert.Equal(reversed.Inputs, second.Inputs);
        Assert.Equal(reversed.Labels, second.Labels);
    }

    [Fact]
    public void A_sample_file_rewritten_in_place_is_read_again_and_a_sample_larger_than_the_cache_is_not_kept()
    {
        using var dir = new TempDirectory();
        var path = dir.Combine("s.bin");
        File.WriteAllText(path, "v1");
        var cache = new SampleCache(1024);
        cache.Add(path, new CachedSample([1f, 2f], null, 3));
        Assert.True(cache.TryGet(path, out var held));
        Assert.Equal(3, held.Label);

        File.WriteAllText(path, "v2 longer");
        Assert.False(cache.TryGet(path, out _));

        // The old version's entry stays until it is the least recently used one to go; a sample larger than the whole cache is never kept.
        var held16 = cache.Bytes;
        cache.Add(path, new CachedSample(new float[1024], null, 0));
        Assert.Equal(held16, cache.Bytes);
        Assert.Equal(1, cache.Count);
        Assert.Throws<ArgumentOutOfRangeException>(() => new SampleCache(-1));
    }
}
