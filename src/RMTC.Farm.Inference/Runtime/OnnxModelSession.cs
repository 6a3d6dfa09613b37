using Microsoft.ML.OnnxRuntime;

namespace RMTC.Farm.Inference.Runtime;

/// <summary>
/// One exported model loaded in ONNX Runtime. Uses the CUDA execution provider when this build references ONNX
/// Runtime's GPU package and a device answers, the CPU provider otherwise; <see cref="ExecutionProvider"/> says which.
/// </summary>
public sealed class OnnxModelSession : IDisposable
{
    private const string CudaProvider = "CUDAExecutionProvider";
    private readonly InferenceSession _session;
    private readonly string _input;
    private readonly string _output;

    /// <summary>Loads <paramref name="model"/> (the bytes of an .onnx file).</summary>
    /// <param name="model">The file's bytes.</param>
    /// <param name="cpuOnly">Skip CUDA even where available (parity tests, benchmarks against a CPU reference).</param>
    /// <param name="threads">Intra-op threads; 0 lets ONNX Runtime choose.</param>
    public OnnxModelSession(byte[] model, bool cpuOnly = false, int threads = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        var (options, provider, note) = CreateOptions(cpuOnly, threads);
        try
        {
            _session = new InferenceSession(model, options);
        }
        catch (OnnxRuntimeException e) when (provider == CudaProvider)
        {
            // The GPU package is there but the device or its libraries are not: the CPU gives the same answers, slower.
            options.Dispose();
            (options, provider, _) = CreateOptions(cpuOnly: true, threads);
            note = $"CUDA execution provider failed to start ({e.Message}); using CPU";
            _session = new InferenceSession(model, options);
        }
        finally
        {
            // The session keeps what it needs from the options.
            options.Dispose();
        }

        ExecutionProvider = provider;
        Note = note;
        _input = _session.InputMetadata.Keys.Single();
        _output = _session.OutputMetadata.Keys.First();
    }

    /// <summary><c>CUDAExecutionProvider</c> or <c>CPUExecutionProvider</c>.</summary>
    public string ExecutionProvider { get; }

    /// <summary>Why the provider is what it is, when that is worth telling (e.g. CUDA failed); null otherwise.</summary>
    public string? Note { get; }

    /// <summary>Runs the model on one float32 tensor and returns its first output with the output's shape.</summary>
    public (float[] Values, long[] Shape) Run(float[] input, long[] shape)
    {
        using var value = OrtValue.CreateTensorValueFromMemory(input, shape);
        using var runOptions = new RunOptions();
        using var outputs = _session.Run(runOptions, [_input], [value], [_output]);
        var output = outputs[0];
        return (output.GetTensorDataAsSpan<float>().ToArray(), output.GetTensorTypeAndShape().Shape);
    }

    public void Dispose() => _session.Dispose();

    private static (SessionOptions Options, string Provider, string? Note) CreateOptions(bool cpuOnly, int threads)
    {
        var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        if (threads > 0)
        {
            options.IntraOpNumThreads = threads;
        }

        if (!cpuOnly && OrtEnv.Instance().GetAvailableProviders().Contains(CudaProvider))
        {
            try
            {
                options.AppendExecutionProvider_CUDA(0);
                return (options, CudaProvider, null);
            }
            catch (OnnxRuntimeException e)
            {
                return (options, "CPUExecutionProvider", $"CUDA execution provider unavailable ({e.Message}); using CPU");
            }
        }

        return (options, "CPUExecutionProvider", null);
    }
}
