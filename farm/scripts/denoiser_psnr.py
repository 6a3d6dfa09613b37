"""PSNR of denoised renders against the high-sample render, on the tone-mapped image (run by quality-denoiser.sh).

Definition (the same as the farm's held-out evaluation, RMTC.Farm.Training.Loop.Psnr; change both together): each
channel of the beauty's linear radiance x goes through t(x) = (max(x, 0) / (1 + max(x, 0)))^(1/2.2) (Reinhard at
exposure 1, then a 2.2 display gamma: 0..inf onto 0..1, no clipping), and PSNR = 10 log10(1 / MSE) with the MSE over
every pixel and channel of every frame together.

Rows: the noisy input; OpenCV's non-local means (cv2.fastNlMeansDenoisingColored) on the tone-mapped noisy beauty as
8-bit sRGB-like pixels, with its filter strength h swept over a fixed list and the best h on these very frames kept
(an oracle setting, so the baseline is as strong as it can be); then each --model NAME=DIR of denoised EXRs with the
same file names as the clean ones.

Usage: python3 denoiser_psnr.py --clean DIR --noisy DIR [--model NAME=DIR ...] [--beauty ViewLayer.Combined] [--json]
Needs oiiotool (openimageio-tools) and OpenCV (python3-opencv) with numpy.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")
import cv2  # noqa: E402
import numpy as np  # noqa: E402

GAMMA = 2.2
NLM_STRENGTHS = [2, 3, 5, 7, 10, 14, 20]


def tone_map(radiance):
    x = np.maximum(radiance.astype(np.float64), 0)
    return (x / (1 + x)) ** (1 / GAMMA)


def read_beauty(path, beauty, scratch):
    """The beauty's R, G, B of a (multilayer) EXR as float32 [H, W, 3], through oiiotool (OpenCV reads plain RGB EXR only)."""
    plain = os.path.join(scratch, "beauty.exr")
    names = [f"{beauty}.{c}" if beauty else c for c in "RGB"]
    subprocess.run(["oiiotool", path, "--ch", ",".join(f"{c}={n}" for c, n in zip("RGB", names)), "-d", "float", "-o", plain],
                   check=True, capture_output=True)
    image = cv2.imread(plain, cv2.IMREAD_UNCHANGED)
    if image is None or image.ndim != 3 or image.shape[2] != 3:
        sys.exit(f"error: {path}: could not read the beauty channels {names}")
    return image[:, :, ::-1].astype(np.float32)  # OpenCV gives BGR


def psnr(squared_error, count):
    return 10 * np.log10(1 / max(squared_error / count, 1e-10))


def main():
    p = argparse.ArgumentParser(prog="denoiser_psnr.py")
    p.add_argument("--clean", required=True, help="folder of the high-sample renders (the reference)")
    p.add_argument("--noisy", required=True, help="folder of the low-sample renders (same file names)")
    p.add_argument("--model", action="append", default=[], help="NAME=DIR of denoised EXRs (same file names)")
    p.add_argument("--beauty", default="ViewLayer.Combined", help="layer of the beauty's R, G, B ('' for top-level R, G, B)")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    models = []
    for m in a.model:
        if "=" not in m:
            p.error(f"--model {m}: use NAME=DIR")
        models.append(tuple(m.split("=", 1)))
    frames = sorted(f for f in os.listdir(a.clean) if f.endswith(".exr"))
    if not frames:
        sys.exit(f"error: no .exr frames in {a.clean}")

    sums = {"noisy": 0.0, **{f"nlm h={h}": 0.0 for h in NLM_STRENGTHS}, **{name: 0.0 for name, _ in models}}
    count = 0
    with tempfile.TemporaryDirectory() as scratch:
        for frame in frames:
            clean = tone_map(read_beauty(os.path.join(a.clean, frame), a.beauty, scratch))
            noisy = tone_map(read_beauty(os.path.join(a.noisy, frame), a.beauty, scratch))
            count += clean.size
            sums["noisy"] += float(((noisy - clean) ** 2).sum())
            pixels = np.clip(np.rint(noisy * 255), 0, 255).astype(np.uint8)
            for h in NLM_STRENGTHS:
                denoised = cv2.fastNlMeansDenoisingColored(pixels, None, h, h, 7, 21).astype(np.float64) / 255
                sums[f"nlm h={h}"] += float(((denoised - clean) ** 2).sum())
            for name, folder in models:
                path = os.path.join(folder, frame)
                if not os.path.exists(path):
                    sys.exit(f"error: {name}: {path} is missing (denoise every held-out frame)")
                sums[name] += float(((tone_map(read_beauty(path, a.beauty, scratch)) - clean) ** 2).sum())

    best_h = max(NLM_STRENGTHS, key=lambda h: psnr(sums[f"nlm h={h}"], count))
    result = {"frames": len(frames), "noisy": psnr(sums["noisy"], count),
              "nlm": psnr(sums[f"nlm h={best_h}"], count), "nlm_h": best_h,
              "models": {name: psnr(sums[name], count) for name, _ in models}}
    if a.json:
        print(json.dumps(result))
    else:
        print(f"{len(frames)} frames; PSNR (dB) on the tone-mapped beauty against the clean render:")
        print(f"  noisy input     {result['noisy']:.2f}")
        print(f"  OpenCV NLM      {result['nlm']:.2f}  (h={best_h}, best of {NLM_STRENGTHS})")
        for name, value in result["models"].items():
            print(f"  {name:<15} {value:.2f}")


if __name__ == "__main__":
    main()
