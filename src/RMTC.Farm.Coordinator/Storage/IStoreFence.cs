namespace RMTC.Farm.Coordinator.Storage;

/// <summary>
/// The fencing token a store's writes carry when several coordinators share it (<c>Coordinator:Leadership</c>). The
/// store refuses a write whose token is older than the newest one taken; without a fence (one coordinator) nothing
/// is checked.
/// </summary>
public interface IStoreFence
{
    /// <summary>The token of this coordinator's leadership; 0 while it does not lead (every write is then refused without asking the store).</summary>
    long Token { get; }

    /// <summary>The store refused a write because <paramref name="newer"/> was taken by another coordinator: this one no longer leads.</summary>
    void Refused(long newer, string what);
}
