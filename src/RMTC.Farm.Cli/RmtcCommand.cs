using System.CommandLine;
using RMTC.Farm.Cli.Commands;

namespace RMTC.Farm.Cli;

/// <summary>The root of the <c>rmtc</c> command line.</summary>
internal static class RmtcCommand
{
    public static RootCommand Create()
    {
        var root = new RootCommand(
            """
            RMTC.Farm: train models on the render farm. A coordinator splits a training job into shards that agents
            (daemons on render nodes) train concurrently; each round's results are merged by federated averaging,
            and every run's lineage is recorded in its manifest.

            Start here:  rmtc demo            (a whole run on this machine, nothing to install)
            Then:        rmtc coordinator     (on the farm's scheduler host)
                         rmtc agent           (on every render node)
                         rmtc submit job.yaml --wait

            Configuration, lowest to highest: --config FILE (JSON, see farm/config/), RMTC_* environment
            variables (e.g. RMTC_COORDINATOR=http://host:7460, RMTC_Coordinator__DataDirectory=/farm/rmtc), flags.
            """);
        root.Subcommands.Add(CoordinatorCommand.Create());
        root.Subcommands.Add(AgentCommand.Create());
        root.Subcommands.Add(SubmitCommand.Create());
        root.Subcommands.Add(StatusCommand.Create());
        root.Subcommands.Add(WatchCommand.Create());
        root.Subcommands.Add(CancelCommand.Create());
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(DatasetCommand.Create());
        root.Subcommands.Add(LineageCommand.Create());
        root.Subcommands.Add(ShardCommand.Create());
        root.Subcommands.Add(TrainerCommand.Create());
        root.Subcommands.Add(ExportCommand.Create());
        root.Subcommands.Add(InferCommand.Create());
        root.Subcommands.Add(TrainCommand.Create());
        Client.ClientAuth.AddTo(root);
        return root;
    }
}
