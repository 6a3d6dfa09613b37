using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace RMTC.Farm.Protos.Client;

/// <summary>
/// What a client (the CLI, an agent) presents to the coordinator and whom it trusts: a bearer token sent as
/// <c>authorization: Bearer TOKEN</c> on every call, and a farm CA that the coordinator's TLS certificate must chain to.
/// Both are optional: without them the channel is what it always was.
/// </summary>
public sealed record FarmCredentials(string? Token, string? CaFile, string? CertificateFile = null, string? KeyFile = null)
{
    /// <summary>Extended key usage of a TLS server certificate.</summary>
    public static readonly System.Security.Cryptography.Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1");

    /// <summary>Extended key usage of a TLS client certificate.</summary>
    public static readonly System.Security.Cryptography.Oid ClientAuthentication = new("1.3.6.1.5.5.7.3.2");

    /// <summary>No token, the system's trusted roots.</summary>
    public static FarmCredentials None { get; } = new(null, null);

    /// <summary>
    /// The token from <paramref name="token"/>, else the file <paramref name="tokenFile"/> (its first line, trimmed).
    /// Throws <see cref="InvalidOperationException"/> naming the file when it is missing, unreadable or empty.
    /// </summary>
    public static string? ResolveToken(string? token, string? tokenFile, string what)
    {
        if (!string.IsNullOrWhiteSpace(token))
        {
            return token.Trim();
        }

        return string.IsNullOrWhiteSpace(tokenFile) ? null : ReadTokenFile(tokenFile, what);
    }

    /// <summary>Reads a token file (the first non-empty line, trimmed). <paramref name="what"/> names the setting in errors.</summary>
    public static string ReadTokenFile(string path, string what)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"{what} {path}: cannot read the token file ({e.Message}); check the path and that this user may read it");
        }

        var line = text.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0);
        return line ?? throw new InvalidOperationException($"{what} {path}: the token file is empty; put the token on its first line");
    }

    /// <summary>Loads every certificate of a CA file (PEM, one or more certificates; or DER). Throws naming the file.</summary>
    public static X509Certificate2Collection LoadCa(string path)
    {
        try
        {
            var certificates = new X509Certificate2Collection();
            if (File.ReadAllText(path).Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal))
            {
                certificates.ImportFromPemFile(path);
            }
            else
            {
                certificates.Add(X509CertificateLoader.LoadCertificateFromFile(path));
            }

            return certificates.Count > 0
                ? certificates
                : throw new InvalidOperationException($"CA file {path}: holds no certificate");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
        {
            throw new InvalidOperationException($"CA file {path}: cannot load it as a PEM or DER certificate ({e.Message})");
        }
    }

    /// <summary>
    /// Applies the credentials to <paramref name="handler"/>: with a CA file, the coordinator's certificate must chain
    /// to that CA (and match the address's host name); with a token, every request carries it. Returns the handler to
    /// give the channel.
    /// </summary>
    public HttpMessageHandler Apply(SocketsHttpHandler handler)
    {
        if (CaFile is { Length: > 0 } caFile)
        {
            var roots = LoadCa(caFile);
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, chain, errors) => TrustedByFarmCa(roots, certificate, chain, errors, ServerAuthentication);
        }

        if (CertificateFile is { Length: > 0 } certificateFile)
        {
            handler.SslOptions.ClientCertificates = [LoadClientCertificate(certificateFile, KeyFile)];
        }

        return Token is { Length: > 0 } token ? new BearerTokenHandler(token) { InnerHandler = handler } : handler;
    }

    /// <summary>A PEM client certificate with its PEM key (in <paramref name="keyFile"/>, or in the same file). Throws naming the file.</summary>
    public static X509Certificate2 LoadClientCertificate(string certificateFile, string? keyFile)
    {
        try
        {
            return X509Certificate2.CreateFromPemFile(certificateFile, string.IsNullOrWhiteSpace(keyFile) ? certificateFile : keyFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            throw new InvalidOperationException($"client certificate {certificateFile}{(string.IsNullOrWhiteSpace(keyFile) ? "" : $" with key {keyFile}")}: cannot load it as PEM certificate and key ({e.Message})");
        }
    }

    /// <summary>
    /// True when the server's certificate names the host we dialled and chains to one of <paramref name="roots"/> —
    /// only those: a farm CA file means the farm's certificates, not any public CA's.
    /// </summary>
    public static bool TrustedByFarmCa(X509Certificate2Collection roots, System.Security.Cryptography.X509Certificates.X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors, System.Security.Cryptography.Oid? purpose = null)
    {
        if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
        {
            // No certificate, or it names another host: no CA makes that right.
            return false;
        }

        using var farm = new X509Chain();
        farm.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        farm.ChainPolicy.CustomTrustStore.AddRange(roots);
        // A farm CA rarely runs a revocation service; rotation is by reissuing certificates.
        farm.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        farm.ChainPolicy.ApplicationPolicy.Add(purpose ?? ServerAuthentication);
        if (chain is not null)
        {
            foreach (var element in chain.ChainElements)
            {
                farm.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        var leaf = certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return farm.Build(leaf);
    }

    /// <summary>Adds the bearer token to every request of the channel.</summary>
    private sealed class BearerTokenHandler(string token) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            return base.SendAsync(request, cancellationToken);
        }
    }
}
