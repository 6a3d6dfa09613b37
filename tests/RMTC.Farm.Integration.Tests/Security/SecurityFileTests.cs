using RMTC.Farm.Coordinator.Security;

namespace RMTC.Farm.Integration.Tests.Security;

/// <summary>The tokens file's checks and the path resolution behind dataset roots, on real files.</summary>
public sealed class SecurityFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rmtc-secfile-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("""{"tokens": [{"token": "short", "user": "a", "shows": ["x"]}]}""", "tokens[0] (user a): \"token\" must be at least 16 characters")]
    [InlineData("""{"tokens": [{"token": "0123456789abcdef0", "user": "a"}]}""", "a wrangler needs \"shows\"")]
    [InlineData("""{"tokens": [{"token": "0123456789abcdef0", "user": "a", "role": "root"}]}""", "\"role\" must be wrangler or admin (got 'root')")]
    [InlineData("""{"tokens": [{"token": "0123456789abcdef0", "role": "admin"}]}""", "\"user\" is required")]
    [InlineData("""{"tokens": [{"token": "0123456789abcdef0", "user": "a", "role": "admin"}, {"token": "0123456789abcdef0", "user": "b", "role": "admin"}]}""", "tokens[1] (user b): the same token appears twice")]
    [InlineData("{\"tokens\": [\n{\"token\": }]}", ":2: not valid JSON")]
    [InlineData("{}", "no \"tokens\" list")]
    public void A_bad_tokens_file_is_refused_naming_the_file_the_entry_and_the_fix(string json, string expected)
    {
        var path = Path.Combine(_dir, "wranglers.json");
        File.WriteAllText(path, json);
        var error = Assert.Throws<InvalidOperationException>(() => WranglerTokensFile.Load(path));
        Assert.Contains($"Coordinator:WranglerTokensFile {path}", error.Message);
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void A_good_tokens_file_maps_tokens_to_users_shows_and_roles()
    {
        var path = Path.Combine(_dir, "wranglers.json");
        File.WriteAllText(path, """
            // comments and trailing commas are allowed
            {"tokens": [
              {"token": "alice-0123456789abcdef", "user": "alice", "shows": ["a", "b"]},
              {"token": "root-0123456789abcdef", "user": "root", "role": "admin"},
            ]}
            """);
        var tokens = WranglerTokensFile.Load(path);
        var alice = tokens[WranglerTokensFile.Digest("alice-0123456789abcdef")];
        Assert.Equal("alice", alice.User);
        Assert.True(alice.MayAccess("b"));
        Assert.False(alice.MayAccess("c"));
        Assert.False(alice.MayAccess(null));
        Assert.True(tokens[WranglerTokensFile.Digest("root-0123456789abcdef")].MayAccess(null));
    }

    [Fact]
    public void Real_paths_resolve_relative_chained_and_dotdot_links_as_the_kernel_does()
    {
        var a = Directory.CreateDirectory(Path.Combine(_dir, "a", "deep")).FullName;
        var b = Directory.CreateDirectory(Path.Combine(_dir, "b")).FullName;
        Directory.CreateSymbolicLink(Path.Combine(_dir, "to-deep"), "a/deep");
        Directory.CreateSymbolicLink(Path.Combine(b, "chain"), Path.Combine(_dir, "to-deep"));
        Directory.CreateSymbolicLink(Path.Combine(a, "up"), "../..");

        Assert.Equal(a, DatasetConfinement.RealPath(Path.Combine(b, "chain")));
        Assert.Equal(Path.Combine(a, "missing"), DatasetConfinement.RealPath(Path.Combine(b, "chain", "missing")));
        // deep/up -> ../.. from a/deep is _dir; then b.
        Assert.Equal(b, DatasetConfinement.RealPath(Path.Combine(a, "up", "b")));
        Directory.CreateSymbolicLink(Path.Combine(_dir, "loop"), Path.Combine(_dir, "loop"));
        Assert.Throws<IOException>(() => DatasetConfinement.RealPath(Path.Combine(_dir, "loop", "x")));
    }
}
