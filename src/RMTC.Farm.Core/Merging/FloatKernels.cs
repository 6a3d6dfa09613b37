using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace RMTC.Farm.Core.Merging;

/// <summary>
/// Vectorised float32 loops used by merging. Every lane does exactly the scalar tail's IEEE operations
/// (no fused multiply-add), so results are bit-identical whatever the vector width of the machine.
/// </summary>
internal static class FloatKernels
{
    private const int FiniteBlock = 4096;

    /// <summary>Index of the first NaN or infinity in <paramref name="x"/>, or −1 when all values are finite.</summary>
    public static int IndexOfNonFinite(ReadOnlySpan<float> x)
    {
        for (int start = 0; start < x.Length; start += FiniteBlock)
        {
            var block = x.Slice(start, Math.Min(FiniteBlock, x.Length - start));
            if (!AllFinite(block))
            {
                for (int i = 0; i < block.Length; i++)
                {
                    if (!float.IsFinite(block[i]))
                    {
                        return start + i;
                    }
                }
            }
        }

        return -1;
    }

    /// <summary>True when every value is finite: x − x is 0 for finite x and NaN for NaN and ±∞, and NaN survives a sum.</summary>
    private static bool AllFinite(ReadOnlySpan<float> x)
    {
        ref float r = ref MemoryMarshal.GetReference(x);
        int n = x.Length;
        int i = 0;
        bool ok = true;
        if (Vector.IsHardwareAccelerated && n >= Vector<float>.Count)
        {
            int w = Vector<float>.Count;
            var a0 = Vector<float>.Zero;
            var a1 = Vector<float>.Zero;
            var a2 = Vector<float>.Zero;
            var a3 = Vector<float>.Zero;
            for (; i <= n - (4 * w); i += 4 * w)
            {
                var v0 = Vector.LoadUnsafe(ref r, (nuint)i);
                var v1 = Vector.LoadUnsafe(ref r, (nuint)(i + w));
                var v2 = Vector.LoadUnsafe(ref r, (nuint)(i + (2 * w)));
                var v3 = Vector.LoadUnsafe(ref r, (nuint)(i + (3 * w)));
                a0 += v0 - v0;
                a1 += v1 - v1;
                a2 += v2 - v2;
                a3 += v3 - v3;
            }

            for (; i <= n - w; i += w)
            {
                var v = Vector.LoadUnsafe(ref r, (nuint)i);
                a0 += v - v;
            }

            ok = Vector.EqualsAll((a0 + a1) + (a2 + a3), Vector<float>.Zero);
        }

        float s = 0f;
        for (; i < n; i++)
        {
            float v = Unsafe.Add(ref r, i);
            s += v - v;
        }

        return ok && s == 0f;
    }

    /// <summary>sum[i] = sum[i] + x[i] · w.</summary>
    public static void MultiplyAdd(Span<float> sum, ReadOnlySpan<float> x, float w)
    {
        if (sum.Length != x.Length)
        {
            throw new ArgumentException("length mismatch");
        }

        ref float s = ref MemoryMarshal.GetReference(sum);
        ref float r = ref MemoryMarshal.GetReference(x);
        int n = sum.Length;
        int i = 0;
        if (Vector.IsHardwareAccelerated && n >= Vector<float>.Count)
        {
            int vw = Vector<float>.Count;
            var wv = new Vector<float>(w);
            for (; i <= n - (4 * vw); i += 4 * vw)
            {
                var s0 = Vector.LoadUnsafe(ref s, (nuint)i);
                var s1 = Vector.LoadUnsafe(ref s, (nuint)(i + vw));
                var s2 = Vector.LoadUnsafe(ref s, (nuint)(i + (2 * vw)));
                var s3 = Vector.LoadUnsafe(ref s, (nuint)(i + (3 * vw)));
                var x0 = Vector.LoadUnsafe(ref r, (nuint)i);
                var x1 = Vector.LoadUnsafe(ref r, (nuint)(i + vw));
                var x2 = Vector.LoadUnsafe(ref r, (nuint)(i + (2 * vw)));
                var x3 = Vector.LoadUnsafe(ref r, (nuint)(i + (3 * vw)));
                (s0 + (x0 * wv)).StoreUnsafe(ref s, (nuint)i);
                (s1 + (x1 * wv)).StoreUnsafe(ref s, (nuint)(i + vw));
                (s2 + (x2 * wv)).StoreUnsafe(ref s, (nuint)(i + (2 * vw)));
                (s3 + (x3 * wv)).StoreUnsafe(ref s, (nuint)(i + (3 * vw)));
            }

            for (; i <= n - vw; i += vw)
            {
                var s0 = Vector.LoadUnsafe(ref s, (nuint)i);
                var x0 = Vector.LoadUnsafe(ref r, (nuint)i);
                (s0 + (x0 * wv)).StoreUnsafe(ref s, (nuint)i);
            }
        }

        for (; i < n; i++)
        {
            ref float si = ref Unsafe.Add(ref s, i);
            si = si + (Unsafe.Add(ref r, i) * w);
        }
    }

    /// <summary>sum[i] = 0 + x[i] · w: what <see cref="MultiplyAdd"/> gives on a zeroed sum, without reading it.</summary>
    public static void MultiplyAssign(Span<float> sum, ReadOnlySpan<float> x, float w)
    {
        if (sum.Length != x.Length)
        {
            throw new ArgumentException("length mismatch");
        }

        ref float s = ref MemoryMarshal.GetReference(sum);
        ref float r = ref MemoryMarshal.GetReference(x);
        int n = sum.Length;
        int i = 0;
        if (Vector.IsHardwareAccelerated && n >= Vector<float>.Count)
        {
            int vw = Vector<float>.Count;
            var wv = new Vector<float>(w);
            for (; i <= n - (4 * vw); i += 4 * vw)
            {
                (Vector<float>.Zero + (Vector.LoadUnsafe(ref r, (nuint)i) * wv)).StoreUnsafe(ref s, (nuint)i);
                (Vector<float>.Zero + (Vector.LoadUnsafe(ref r, (nuint)(i + vw)) * wv)).StoreUnsafe(ref s, (nuint)(i + vw));
                (Vector<float>.Zero + (Vector.LoadUnsafe(ref r, (nuint)(i + (2 * vw))) * wv)).StoreUnsafe(ref s, (nuint)(i + (2 * vw)));
                (Vector<float>.Zero + (Vector.LoadUnsafe(ref r, (nuint)(i + (3 * vw))) * wv)).StoreUnsafe(ref s, (nuint)(i + (3 * vw)));
            }

            for (; i <= n - vw; i += vw)
            {
                (Vector<float>.Zero + (Vector.LoadUnsafe(ref r, (nuint)i) * wv)).StoreUnsafe(ref s, (nuint)i);
            }
        }

        for (; i < n; i++)
        {
            Unsafe.Add(ref s, i) = 0f + (Unsafe.Add(ref r, i) * w);
        }
    }

    /// <summary>x[i] = x[i] / d.</summary>
    public static void Divide(Span<float> x, float d)
    {
        ref float r = ref MemoryMarshal.GetReference(x);
        int n = x.Length;
        int i = 0;
        if (Vector.IsHardwareAccelerated && n >= Vector<float>.Count)
        {
            int vw = Vector<float>.Count;
            var dv = new Vector<float>(d);
            for (; i <= n - vw; i += vw)
            {
                (Vector.LoadUnsafe(ref r, (nuint)i) / dv).StoreUnsafe(ref r, (nuint)i);
            }
        }

        for (; i < n; i++)
        {
            ref float ri = ref Unsafe.Add(ref r, i);
            ri /= d;
        }
    }

    /// <summary>
    /// Nesterov outer step per element: g = p − a; m = μ·m + g; p = p − lr·(μ·m + g).
    /// </summary>
    public static void NesterovStep(Span<float> param, ReadOnlySpan<float> average, Span<float> momentumBuffer, float lr, float mu)
    {
        if (param.Length != average.Length || param.Length != momentumBuffer.Length)
        {
            throw new ArgumentException("length mismatch");
        }

        ref float p = ref MemoryMarshal.GetReference(param);
        ref float a = ref MemoryMarshal.GetReference(average);
        ref float m = ref MemoryMarshal.GetReference(momentumBuffer);
        int n = param.Length;
        int i = 0;
        if (Vector.IsHardwareAccelerated && n >= Vector<float>.Count)
        {
            int vw = Vector<float>.Count;
            var lrv = new Vector<float>(lr);
            var muv = new Vector<float>(mu);
            for (; i <= n - vw; i += vw)
            {
                var pv = Vector.LoadUnsafe(ref p, (nuint)i);
                var g = pv - Vector.LoadUnsafe(ref a, (nuint)i);
                var mv = (muv * Vector.LoadUnsafe(ref m, (nuint)i)) + g;
                mv.StoreUnsafe(ref m, (nuint)i);
                (pv - (lrv * ((muv * mv) + g))).StoreUnsafe(ref p, (nuint)i);
            }
        }

        for (; i < n; i++)
        {
            ref float pi = ref Unsafe.Add(ref p, i);
            ref float mi = ref Unsafe.Add(ref m, i);
            float g = pi - Unsafe.Add(ref a, i);
            mi = (mu * mi) + g;
            pi = pi - (lr * ((mu * mi) + g));
        }
    }
}
