using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using RMTC.Farm.Protos.Client;

namespace RMTC.Farm.Coordinator.Security;

/// <summary>Loads the coordinator's TLS certificate (PEM or PKCS#12) with errors that name the file and the setting.</summary>
public static class CoordinatorTls
{
    /// <summary>
    /// Sets up the gRPC listener's TLS: the certificate, loaded on first handshake (this runs while the app is built,
    /// before validation on start reports a bad path with the other settings' problems; the validation loads it once
    /// already), and, with <see cref="TlsOptions.AgentCaPath"/>, optional client certificates that must chain to that CA.
    /// </summary>
    public static void Configure(HttpsConnectionAdapterOptions https, TlsOptions tls)
    {
        var certificate = new Lazy<X509Certificate2>(() => Load(tls));
        https.ServerCertificateSelector = (_, _) => certificate.Value;
        if (!string.IsNullOrWhiteSpace(tls.AgentCaPath))
        {
            var roots = new Lazy<X509Certificate2Collection>(() => FarmCredentials.LoadCa(tls.AgentCaPath));
            // Allowed, not required: wranglers' clients and token-carrying agents present none.
            https.ClientCertificateMode = ClientCertificateMode.AllowCertificate;
            https.ClientCertificateValidation = (client, chain, errors) =>
                FarmCredentials.TrustedByFarmCa(roots.Value, client, chain, errors & ~SslPolicyErrors.RemoteCertificateNameMismatch, FarmCredentials.ClientAuthentication);
        }
    }

    /// <summary>The certificate with its private key. Throws <see cref="InvalidOperationException"/> naming what is wrong.</summary>
    public static X509Certificate2 Load(TlsOptions tls)
    {
        var path = tls.CertificatePath ?? throw new InvalidOperationException("Coordinator:Tls:CertificatePath is not set");
        if (!File.Exists(path))
        {
            throw new InvalidOperationException($"Coordinator:Tls:CertificatePath {path}: no such file; give the coordinator's certificate (PEM or .pfx)");
        }

        if (!string.IsNullOrWhiteSpace(tls.KeyPath) && !File.Exists(tls.KeyPath))
        {
            throw new InvalidOperationException($"Coordinator:Tls:KeyPath {tls.KeyPath}: no such file; give the certificate's PEM private key");
        }

        X509Certificate2 certificate;
        try
        {
            if (IsPem(path))
            {
                var keyPath = string.IsNullOrWhiteSpace(tls.KeyPath) ? path : tls.KeyPath;
                certificate = string.IsNullOrEmpty(tls.Password)
                    ? X509Certificate2.CreateFromPemFile(path, keyPath)
                    : X509Certificate2.CreateFromEncryptedPemFile(path, tls.Password, keyPath);
            }
            else
            {
                certificate = X509CertificateLoader.LoadPkcs12FromFile(path, tls.Password);
            }
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new InvalidOperationException(
                $"Coordinator:Tls:CertificatePath {path}{(string.IsNullOrWhiteSpace(tls.KeyPath) ? "" : $" with Coordinator:Tls:KeyPath {tls.KeyPath}")}: cannot load the certificate and its private key ({e.Message}); " +
                "give a PEM certificate with Coordinator:Tls:KeyPath (its PEM key), or a .pfx with Coordinator:Tls:Password");
        }

        if (!certificate.HasPrivateKey)
        {
            throw new InvalidOperationException($"Coordinator:Tls:CertificatePath {path}: holds no private key; set Coordinator:Tls:KeyPath to the certificate's PEM key");
        }

        return certificate;
    }

    private static bool IsPem(string path)
    {
        using var reader = new StreamReader(path);
        var buffer = new char[4096];
        var read = reader.ReadBlock(buffer, 0, buffer.Length);
        return new string(buffer, 0, read).Contains("-----BEGIN", StringComparison.Ordinal);
    }
}
