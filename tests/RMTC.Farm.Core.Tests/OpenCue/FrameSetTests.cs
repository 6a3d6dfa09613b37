using RMTC.Farm.Core.OpenCue;

namespace RMTC.Farm.Core.Tests.OpenCue;

public sealed class FrameSetTests
{
    [Theory]
    [InlineData("1-8", new[] { 1, 2, 3, 4, 5, 6, 7, 8 })]
    [InlineData("1-10x2", new[] { 1, 3, 5, 7, 9 })]
    [InlineData("1-10y3", new[] { 2, 3, 5, 6, 8, 9 })]
    [InlineData("1,3,5", new[] { 1, 3, 5 })]
    [InlineData("5-1", new[] { 5, 4, 3, 2, 1 })]
    [InlineData("7", new[] { 7 })]
    [InlineData("1-3, 2-5", new[] { 1, 2, 3, 4, 5 })]
    [InlineData("-2-1", new[] { -2, -1, 0, 1 })]
    public void Ranges_expand_in_written_order_without_repeats(string text, int[] expected)
    {
        Assert.True(FrameSet.TryParse(text, out var frames, out var error), error);
        Assert.Equal(expected, frames);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("1-", "'1-' is not a frame range part")]
    [InlineData("1-10x0", "the step must be a positive whole number")]
    [InlineData("a-b", "'a-b' is not a frame range part")]
    [InlineData("1-200000", "more than 100000 frames")]
    public void Bad_ranges_say_which_part_is_wrong(string text, string expected)
    {
        Assert.False(FrameSet.TryParse(text, out _, out var error));
        Assert.Contains(expected, error);
    }
}
