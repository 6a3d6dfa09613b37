using Microsoft.Extensions.Options;

namespace RMTC.Farm.Agent.Hosting;

/// <summary>Checks <c>Agent:Trainer</c> on start, against the memory the node offers per slot (each warm trainer keeps its own sample cache), and <c>Agent:PeerDataPlane</c>.</summary>
public sealed class TrainerOptionsValidation : IValidateOptions<AgentOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, AgentOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var memory = options.MemoryMiB > 0 ? options.MemoryMiB * 1024 * 1024 : GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        var problems = options.Trainer.Problems(memory, options.Slots).Concat(options.PeerDataPlane.Problems()).ToList();
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
