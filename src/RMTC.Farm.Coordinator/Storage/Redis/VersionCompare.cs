namespace RMTC.Farm.Coordinator.Storage.Redis;

/// <summary>
/// The Lua comparison of manifest versions shared by <see cref="SaveManifestScript"/> and
/// <see cref="SaveManifestPartsScript"/>. Versions are compared as decimal strings, not with tonumber: Lua numbers are
/// doubles and tick-based versions (about 6e17) exceed 2^53, so versions a few ticks apart would compare equal and the
/// newer manifest would be dropped.
/// </summary>
internal static class VersionCompare
{
    /// <summary>Defines <c>le(a, b)</c>: whether decimal int64 string a is at most b.</summary>
    public const string Lua = """
        local function le(a, b)
          local an, bn = a:sub(1, 1) == '-', b:sub(1, 1) == '-'
          if an ~= bn then return an end
          if an then a, b = b:sub(2), a:sub(2) end
          if #a ~= #b then return #a < #b end
          for i = 1, #a do
            local x, y = a:byte(i), b:byte(i)
            if x ~= y then return x < y end
          end
          return true
        end
        """;
}
