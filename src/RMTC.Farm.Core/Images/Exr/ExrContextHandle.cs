using System.Runtime.InteropServices;

namespace RMTC.Farm.Core.Images.Exr;

/// <summary>An OpenEXRCore context (<c>exr_context_t</c>); releasing it calls <c>exr_finish</c>, which closes the file.</summary>
internal sealed class ExrContextHandle : SafeHandle
{
    public ExrContextHandle()
        : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>Finishes the context and reports the library's answer (a write commits the file here).</summary>
    public unsafe int Finish()
    {
        var context = handle;
        SetHandleAsInvalid();
        return context == IntPtr.Zero ? 0 : OpenExrCore.Finish(&context);
    }

    protected override unsafe bool ReleaseHandle()
    {
        var context = handle;
        return OpenExrCore.Finish(&context) == 0;
    }
}
