using RMTC.Farm.Agent.Gpus;

namespace RMTC.Farm.Integration.Tests;

/// <summary>GPU detection parses nvidia-smi output recorded on real nodes (no GPU exists on the test machines).</summary>
public sealed class GpuInventoryTests
{
    [Fact]
    public void Recorded_output_of_a_two_GPU_node_is_read()
    {
        const string recorded = """
            0, GPU-5c1e6f2a-0b8e-4f0c-9a1e-2d6f7e8c9b10, NVIDIA RTX A6000, 49140
            1, GPU-7d2f8a3b-1c9f-4e1d-8b2f-3e7a8f9dac21, NVIDIA RTX A6000, 49140
            """;
        var gpus = GpuInventory.Parse(recorded);
        Assert.Equal(2, gpus.Count);
        Assert.Equal((0u, "NVIDIA RTX A6000", 49140UL), (gpus[0].Index, gpus[0].Name, gpus[0].MemoryTotalMib));
        Assert.Equal("GPU-7d2f8a3b-1c9f-4e1d-8b2f-3e7a8f9dac21", gpus[1].Uuid);
    }

    [Fact]
    public void Missing_values_and_garbage_lines_do_not_break_detection()
    {
        var gpus = GpuInventory.Parse("0, GPU-1, NVIDIA H100 80GB HBM3, [N/A]\nNVIDIA-SMI has failed because it couldn't communicate with the driver\n\n");
        var gpu = Assert.Single(gpus);
        Assert.Equal(0UL, gpu.MemoryTotalMib);
    }

    [Fact]
    public void A_node_without_nvidia_smi_has_no_GPUs()
    {
        Assert.Empty(GpuInventory.Parse(""));
        Assert.NotNull(GpuInventory.Detect(TimeSpan.FromSeconds(5)));
    }
}
