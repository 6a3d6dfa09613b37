namespace RMTC.Farm.Core.Images.Exr;

/// <summary>One channel of a part: its full name (layer and channel, e.g. <c>ViewLayer.Combined.R</c>), storage type and sampling.</summary>
public sealed record ExrChannel(string Name, ExrPixelType Type, int XSampling = 1, int YSampling = 1);
