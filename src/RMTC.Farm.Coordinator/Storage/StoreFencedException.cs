namespace RMTC.Farm.Coordinator.Storage;

/// <summary>
/// A write refused because this coordinator does not hold the newest fencing token (<see cref="IStoreFence"/>):
/// another coordinator leads. Nothing was written; retrying cannot help, and the coordinator steps down.
/// </summary>
public sealed class StoreFencedException(string message) : Exception(message);
