namespace RMTC.Farm.Training.Tasks;

/// <summary>A run's TorchScript model fails its check (<see cref="Recipes.ScriptedModelCheck"/>): it cannot be trained on the run's dataset.</summary>
public sealed class ScriptedModelRefusedException : Exception
{
    /// <summary>Creates the exception from the check's problems (each naming the file and what is wrong).</summary>
    public ScriptedModelRefusedException(IReadOnlyList<string> problems)
        : base(string.Join("; ", problems))
    {
        Problems = problems;
    }

    /// <summary>Creates the exception with one problem.</summary>
    public ScriptedModelRefusedException(string message)
        : this([message])
    {
    }

    /// <summary>Creates the exception with one problem and its cause.</summary>
    public ScriptedModelRefusedException(string message, Exception innerException)
        : base(message, innerException)
    {
        Problems = [message];
    }

    /// <summary>Creates the exception with no problem named (for serialisers and analysers).</summary>
    public ScriptedModelRefusedException()
        : this("the model is refused")
    {
    }

    /// <summary>Every problem, each naming the file and what is wrong.</summary>
    public IReadOnlyList<string> Problems { get; }
}
