using System.Diagnostics;

namespace RMTC.Farm.Inference.Tests;

/// <summary>The reference ONNX checker: Debian's python3-onnx under /usr/bin/python3 (farm/scripts/test.sh installs it).</summary>
public static class OnnxChecker
{
    private const string Python = "/usr/bin/python3";

    /// <summary>
    /// Runs <c>onnx.checker.check_model(full_check=True)</c> (which also infers every shape) on the file; returns its
    /// complaint or null. <paramref name="opset"/> is the operator set the file must declare (a torch.onnx.export template's may differ from ours).
    /// </summary>
    public static string? Check(string path, int opset = 17)
    {
        if (!File.Exists(Python))
        {
            return $"{Python} is missing: install python3-onnx (farm/scripts/test.sh does)";
        }

        var info = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("import sys, onnx; m = onnx.load(sys.argv[1]); onnx.checker.check_model(m, full_check=True); print('ok', m.opset_import[0].version)");
        info.ArgumentList.Add(path);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0 && stdout.Result.StartsWith($"ok {opset}\n", StringComparison.Ordinal)
            ? null
            : $"onnx checker (exit {process.ExitCode}): {stdout.Result}{stderr}" + (stderr.Contains("No module named 'onnx'", StringComparison.Ordinal) ? " — install python3-onnx (apt-get install python3-onnx)" : "");
    }
}
