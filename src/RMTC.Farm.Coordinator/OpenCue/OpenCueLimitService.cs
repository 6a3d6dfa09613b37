using Grpc.Core;
using RMTC.Farm.Protos.OpenCue;

namespace RMTC.Farm.Coordinator.OpenCue;

/// <summary>
/// <c>limit.LimitInterface</c>: rmtc has no OpenCue limits (a shard runs where an agent's resources fit it), so every
/// limit is none. CueGUI's Limits window and its layer Properties dialog ask for them as they open, and the dialog
/// would not open on an error; creating, changing or attaching a limit is not served.
/// </summary>
public sealed class OpenCueLimitService : LimitInterface.LimitInterfaceBase
{
    public override Task<LimitGetAllResponse> GetAll(LimitGetAllRequest request, ServerCallContext context) =>
        Task.FromResult(new LimitGetAllResponse());
}
