using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RMTC.Farm.Training.Recipes;

/// <summary>
/// The model a <see cref="Recipe"/> builds, as the training loop sees it: a module (state, train/eval mode, device)
/// that maps a batch to an output. A built-in recipe's C# module and a loaded TorchScript module are both this, so
/// one loop, one checkpoint format and one weights mapping serve them.
/// </summary>
internal sealed class RecipeModel : IDisposable
{
    private readonly nn.IModule<Tensor, Tensor> _forward;

    private RecipeModel(nn.Module module, nn.IModule<Tensor, Tensor> forward)
    {
        Module = module;
        _forward = forward;
    }

    /// <summary>The module: its state_dict is the model's weights (see <see cref="Loop.TorchWeights"/>).</summary>
    public nn.Module Module { get; }

    /// <summary>A built-in recipe's module.</summary>
    public static RecipeModel Of(nn.Module<Tensor, Tensor> module) => new(module, module);

    /// <summary>A TorchScript module.</summary>
    public static RecipeModel Of(jit.ScriptModule<Tensor, Tensor> module) => new(module, module);

    /// <summary>The module, where weights are read or written.</summary>
    public static implicit operator nn.Module(RecipeModel model) => model.Module;

    /// <summary>Output for a batch (hooks included, as <c>module(x)</c> in PyTorch).</summary>
    public Tensor forward(Tensor input) => _forward.call(input);

    public IEnumerable<Parameter> parameters() => Module.parameters();

    public void train() => Module.train();

    public void eval() => Module.eval();

    public void to(Device device) => Module.to(device);

    public void Dispose() => Module.Dispose();
}
