using System.ComponentModel.DataAnnotations;

namespace RMTC.Farm.Coordinator.Security;

/// <summary>
/// Who may talk to the coordinator and how much they may send: bound from the same <c>Coordinator</c> section as
/// <see cref="Hosting.CoordinatorOptions"/> (so <c>Coordinator:AgentTokenFile</c>, <c>Coordinator:Tls:CertificatePath</c>, ...),
/// kept apart so the security settings live together. Every setting unset = today's open behaviour, with a warning at start.
/// </summary>
public sealed class SecurityOptions
{
    /// <summary>TLS on the gRPC port; unset = plaintext HTTP/2.</summary>
    public TlsOptions Tls { get; set; } = new();

    /// <summary>
    /// File holding the farm token agents must present (<c>authorization: Bearer TOKEN</c>) on every AgentService call;
    /// unset: the <c>RMTC_FARM_TOKEN</c> environment variable, else agents are not authenticated.
    /// </summary>
    public string? AgentTokenFile { get; set; }

    /// <summary>
    /// JSON file mapping wrangler tokens to a user, their shows and a role (see README, Security); unset = wranglers
    /// are not authenticated and every caller sees every job.
    /// </summary>
    public string? WranglerTokensFile { get; set; }

    /// <summary>
    /// Directories datasets must lie under (after resolving symlinks); empty = no confinement (a warning at start).
    /// When set, the data directory is allowed as well.
    /// </summary>
    public List<string> DatasetRoots { get; set; } = new();

    /// <summary>Largest gRPC message the coordinator receives, bytes (weights travel in chunks of at most 1 MiB).</summary>
    [Range(64 * 1024, 256 * 1024 * 1024)]
    public int MaxMessageBytes { get; set; } = 2 * 1024 * 1024;

    /// <summary>Longest job spec (YAML or OpenCue XML) accepted, UTF-8 bytes.</summary>
    [Range(1024, 64 * 1024 * 1024)]
    public int MaxJobSpecBytes { get; set; } = 256 * 1024;

    /// <summary>
    /// How far an upload's declared size may exceed its run's weights (the template's size): room for a larger
    /// safetensors header. An upload declaring more is refused before any chunk is read.
    /// </summary>
    [Range(0, long.MaxValue)]
    public long UploadHeadroomBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// Largest upload of a run's first weights (its preparation task, which has no template to be measured against
    /// yet): a header declaring more is refused before any chunk is read. Default 16 GiB.
    /// </summary>
    [Range(1024, long.MaxValue)]
    public long MaxInitialWeightsBytes { get; set; } = 16L << 30;

    /// <summary>
    /// The hosts that may call the OpenCue port (pycue sends no credentials, so the caller's address is all there is)
    /// and the shows each may act for. Empty: on a coordinator that requires tokens the OpenCue port is off; on an open
    /// one it answers anyone for every show. Set: only these addresses are answered, each for its shows only.
    /// </summary>
    public List<OpenCueSubmitHostOptions> OpenCueSubmitHosts { get; set; } = new();
}

/// <summary>The coordinator's TLS certificate (<c>Coordinator:Tls</c>).</summary>
public sealed class TlsOptions
{
    /// <summary>PEM certificate (chain) or PKCS#12 (.pfx/.p12) file; unset = no TLS.</summary>
    public string? CertificatePath { get; set; }

    /// <summary>PEM private key, when <see cref="CertificatePath"/> is a PEM file without the key.</summary>
    public string? KeyPath { get; set; }

    /// <summary>Password of a PKCS#12 file or an encrypted PEM key.</summary>
    public string? Password { get; set; }

    /// <summary>
    /// Farm CA (PEM) whose client certificates authenticate agents (mutual TLS), beside or instead of the farm token:
    /// an AgentService call over a connection with such a certificate needs no token. Unset = no client certificates.
    /// </summary>
    public string? AgentCaPath { get; set; }

    /// <summary>True when a certificate is configured.</summary>
    public bool Enabled => !string.IsNullOrWhiteSpace(CertificatePath);
}
