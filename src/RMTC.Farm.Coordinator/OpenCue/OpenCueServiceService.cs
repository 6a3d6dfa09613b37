using Grpc.Core;
using RMTC.Farm.Protos.OpenCue;

namespace RMTC.Farm.Coordinator.OpenCue;

/// <summary>
/// <c>service.ServiceInterface</c>: rmtc has no OpenCue services (every layer runs <c>rmtc train</c> on an agent with
/// the resources its spec names), so the facility's default services are none. CueGUI's Services and Stuck Frame
/// windows ask for them as they open, and would not open on an error; creating or changing a service is not served.
/// </summary>
public sealed class OpenCueServiceService : ServiceInterface.ServiceInterfaceBase
{
    public override Task<ServiceGetDefaultServicesResponse> GetDefaultServices(ServiceGetDefaultServicesRequest request, ServerCallContext context) =>
        Task.FromResult(new ServiceGetDefaultServicesResponse { Services = new ServiceSeq() });
}
