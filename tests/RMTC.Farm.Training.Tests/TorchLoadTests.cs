using System.Text;
using TorchSharp;

namespace RMTC.Farm.Training.Tests;

public class TorchLoadTests
{
    [Fact]
    public void Torch_loads_and_computes()
    {
        // Fails with "GLIBCXX_3.4.32 not found" on Debian 12 unless build/LibTorchSharpCompat.targets patched the copy.
        using var ones = torch.ones(2);
        using var sum = ones.sum();
        Assert.Equal(2f, sum.item<float>());
    }

    [Fact]
    public void Output_copy_of_LibTorchSharp_has_weak_GLIBCXX_3_4_32_when_host_lacks_it()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        var lib = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assert.True(File.Exists(lib), lib);
        var host = "/usr/lib/x86_64-linux-gnu/libstdc++.so.6";
        if (!File.Exists(host) || Contains(File.ReadAllBytes(host), "\0GLIBCXX_3.4.32\0"))
        {
            return; // host is new enough (or elsewhere): the build step leaves the library alone
        }

        var flags = ElfVersionNeeds.FlagsOf(File.ReadAllBytes(lib), "GLIBCXX_3.4.32");
        Assert.NotEmpty(flags);
        Assert.All(flags, f => Assert.Equal(0x2, f & 0x2));
    }

    private static bool Contains(byte[] haystack, string needle) =>
        haystack.AsSpan().IndexOf(Encoding.ASCII.GetBytes(needle)) >= 0;
}

/// <summary>Read-only walk of .gnu.version_r, independent of the build task's code.</summary>
internal static class ElfVersionNeeds
{
    public static List<int> FlagsOf(byte[] elf, string version)
    {
        var result = new List<int>();
        var shoff = (long)BitConverter.ToUInt64(elf, 0x28);
        int shentsize = BitConverter.ToUInt16(elf, 0x3A);
        int shnum = BitConverter.ToUInt16(elf, 0x3C);
        for (int i = 0; i < shnum; i++)
        {
            var sh = shoff + (i * shentsize);
            if (BitConverter.ToUInt32(elf, (int)sh + 4) != 0x6ffffffe)
            {
                continue;
            }

            var off = (long)BitConverter.ToUInt64(elf, (int)sh + 0x18);
            var link = BitConverter.ToUInt32(elf, (int)sh + 0x28);
            var count = BitConverter.ToUInt32(elf, (int)sh + 0x2C);
            var strOff = (long)BitConverter.ToUInt64(elf, (int)(shoff + (link * shentsize) + 0x18));
            var vn = off;
            for (int n = 0; n < count; n++)
            {
                int cnt = BitConverter.ToUInt16(elf, (int)vn + 2);
                var vna = vn + BitConverter.ToUInt32(elf, (int)vn + 8);
                for (int a = 0; a < cnt; a++)
                {
                    var name = strOff + BitConverter.ToUInt32(elf, (int)vna + 8);
                    var end = Array.IndexOf(elf, (byte)0, (int)name);
                    if (Encoding.ASCII.GetString(elf, (int)name, end - (int)name) == version)
                    {
                        result.Add(BitConverter.ToUInt16(elf, (int)vna + 4));
                    }

                    vna += BitConverter.ToUInt32(elf, (int)vna + 12);
                }

                vn += BitConverter.ToUInt32(elf, (int)vn + 12);
            }
        }

        return result;
    }
}
