using RMTC.Farm.Coordinator.DataPlane;

namespace RMTC.Farm.Integration.Tests.DataPlane;

/// <summary>The data plane's reading of <c>Range</c> and <c>Content-Range</c>.</summary>
public sealed class ByteRangeTests
{
    [Theory]
    [InlineData("bytes=0-99", 1000, 0, 99)]
    [InlineData("bytes=500-", 1000, 500, 999)]
    [InlineData("bytes=900-5000", 1000, 900, 999)]
    [InlineData("bytes=-10", 1000, 990, 999)]
    [InlineData("bytes=-5000", 1000, 0, 999)]
    public void A_single_range_is_clamped_to_the_artifact(string header, long size, long from, long to)
    {
        var range = ByteRange.FromRangeHeader(header, size, out var satisfiable);
        Assert.True(satisfiable);
        Assert.Equal(new ByteRange(from, to), range);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("items=0-9")]
    [InlineData("bytes=0-9,20-29")]
    [InlineData("bytes=9-2")]
    [InlineData("bytes=x-")]
    public void Anything_else_is_answered_whole(string? header)
    {
        Assert.Null(ByteRange.FromRangeHeader(header, 1000, out var satisfiable));
        Assert.True(satisfiable);
    }

    [Theory]
    [InlineData("bytes=1000-")]
    [InlineData("bytes=-0")]
    public void A_range_past_the_end_is_unsatisfiable(string header)
    {
        Assert.Null(ByteRange.FromRangeHeader(header, 1000, out var satisfiable));
        Assert.False(satisfiable);
    }

    [Fact]
    public void Content_range_names_a_piece_of_an_upload_or_says_what_is_wrong()
    {
        Assert.True(ByteRange.TryParseContentRange("bytes 100-199/1000", out var piece, out var total, out _));
        Assert.Equal(new ByteRange(100, 199), piece);
        Assert.Equal(1000, total);
        Assert.Equal("bytes 100-199/1000", piece.ContentRange(total));

        Assert.False(ByteRange.TryParseContentRange("bytes 100-199/*", out _, out _, out var problem));
        Assert.Contains("is not 'bytes FROM-TO/TOTAL'", problem);
        Assert.False(ByteRange.TryParseContentRange("bytes 100-1000/1000", out _, out _, out problem));
        Assert.Contains("does not add up", problem);
    }
}
