using System.Runtime.InteropServices;
using System.Text;
using RMTC.Farm.Protos.V1;

namespace RMTC.Farm.Agent.Gpus;

/// <summary>
/// Samples GPUs through NVML (libnvidia-ml.so.1, shipped with the driver). On a machine without the driver the
/// library is missing and <see cref="TryInitialize"/> answers false.
/// </summary>
public sealed partial class NvmlGpuSampler : IGpuSampler, IDisposable
{
    private const string Library = "libnvidia-ml.so.1";
    private const int Success = 0;
    private const int TemperatureGpu = 0;
    // NVML_DEVICE_NAME_V2_BUFFER_SIZE and NVML_DEVICE_UUID_V2_BUFFER_SIZE.
    private const int StringBuffer = 96;
    private readonly Lock _gate = new();
    private bool _initialized;

    /// <inheritdoc />
    public bool TryInitialize()
    {
        lock (_gate)
        {
            if (_initialized)
            {
                return true;
            }

            try
            {
                _initialized = nvmlInit_v2() == Success;
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
            {
                // No driver on this node (or one too old for the _v2 entry points): not an error, just no NVML.
                _initialized = false;
            }

            return _initialized;
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<GpuSample> Sample()
    {
        lock (_gate)
        {
            if (!_initialized)
            {
                return [];
            }

            Check(nvmlDeviceGetCount_v2(out var count), "nvmlDeviceGetCount_v2");
            var samples = new List<GpuSample>((int)count);
            for (uint i = 0; i < count; i++)
            {
                Check(nvmlDeviceGetHandleByIndex_v2(i, out var device), "nvmlDeviceGetHandleByIndex_v2");
                var sample = new GpuSample { Index = i, Uuid = ReadString(device, uuid: true), Name = ReadString(device, uuid: false) };
                // Each reading is optional: consumer GPUs and MIG slices refuse some queries, which must read as missing, not 0.
                if (nvmlDeviceGetUtilizationRates(device, out var utilization) == Success)
                {
                    sample.UtilizationPercent = utilization.Gpu;
                }

                if (nvmlDeviceGetMemoryInfo(device, out var memory) == Success)
                {
                    sample.MemoryUsedMib = memory.Used / (1024 * 1024);
                    sample.MemoryTotalMib = memory.Total / (1024 * 1024);
                }

                if (nvmlDeviceGetPowerUsage(device, out var milliwatts) == Success)
                {
                    sample.PowerWatts = milliwatts / 1000.0;
                }

                if (nvmlDeviceGetTemperature(device, TemperatureGpu, out var celsius) == Success)
                {
                    sample.TemperatureCelsius = celsius;
                }

                samples.Add(sample);
            }

            return samples;
        }
    }

    /// <summary>Releases NVML; safe to call more than once.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_initialized)
            {
                _initialized = false;
                _ = nvmlShutdown();
            }
        }
    }

    private static void Check(int result, string function)
    {
        if (result != Success)
        {
            throw new InvalidOperationException($"{function} returned NVML error {result}");
        }
    }

    private static unsafe string ReadString(IntPtr device, bool uuid)
    {
        var buffer = stackalloc byte[StringBuffer];
        var result = uuid ? nvmlDeviceGetUUID(device, buffer, StringBuffer) : nvmlDeviceGetName(device, buffer, StringBuffer);
        if (result != Success)
        {
            return "";
        }

        var text = new ReadOnlySpan<byte>(buffer, StringBuffer);
        var end = text.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? text : text[..end]);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct NvmlUtilization
    {
        public uint Gpu;
        public uint Memory;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct NvmlMemory
    {
        public ulong Total;
        public ulong Free;
        public ulong Used;
    }

    [LibraryImport(Library)]
    private static partial int nvmlInit_v2();

    [LibraryImport(Library)]
    private static partial int nvmlShutdown();

    [LibraryImport(Library)]
    private static partial int nvmlDeviceGetCount_v2(out uint count);

    [LibraryImport(Library)]
    private static partial int nvmlDeviceGetHandleByIndex_v2(uint index, out IntPtr device);

    [LibraryImport(Library)]
    private static partial int nvmlDeviceGetUtilizationRates(IntPtr device, out NvmlUtilization utilization);

    [LibraryImport(Library)]
    private static partial int nvmlDeviceGetMemoryInfo(IntPtr device, out NvmlMemory memory);

    [LibraryImport(Library)]
    private static partial int nvmlDeviceGetPowerUsage(IntPtr device, out uint milliwatts);

    [LibraryImport(Library)]
    private static partial int nvmlDeviceGetTemperature(IntPtr device, int sensorType, out uint celsius);

    [LibraryImport(Library)]
    private static unsafe partial int nvmlDeviceGetName(IntPtr device, byte* name, uint length);

    [LibraryImport(Library)]
    private static unsafe partial int nvmlDeviceGetUUID(IntPtr device, byte* uuid, uint length);
}
