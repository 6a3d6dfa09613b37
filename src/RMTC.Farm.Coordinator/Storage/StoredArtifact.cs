namespace RMTC.Farm.Coordinator.Storage;

/// <summary>An artifact as stored: its content digest (lowercase sha256 hex) and its length in bytes.</summary>
public readonly record struct StoredArtifact(string Digest, long Length);
