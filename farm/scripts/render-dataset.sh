#!/usr/bin/env bash
# Renders procedural scenes with Blender's Cycles (CPU) into render pairs for `rmtc dataset import exr`:
#   OUT/train/noisy/sceneSSSS_FFFF.exr   low sample count      OUT/train/clean/...   high sample count
#   OUT/test/noisy/...  OUT/test/clean/...                      the held-out scenes (the last --holdout ones)
# Multilayer EXR (float, ZIP) with Cycles' denoising passes: ViewLayer.Combined.{R,G,B,A},
# ViewLayer.Denoising Albedo.{R,G,B}, ViewLayer.Denoising Normal.{X,Y,Z}, ViewLayer.Denoising Depth.Z.
# Scenes are drawn from the seed (random shapes, materials, lights, world and camera; farm/scripts/render_scenes.py),
# so the same arguments give the same scenes. Installs Debian's blender when it is missing (needs root or sudo).
# Usage: farm/scripts/render-dataset.sh --out DIR [--scenes 8] [--frames 2] [--seed 1] [--size 96] [--low 8]
#        [--high 256] [--holdout 2] [--threads 0]
# then:  rmtc dataset import exr DIR --out DATASET --licence LicenseRef-procedural --allow cawg.ai_training ...
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

if [ "$#" -eq 0 ] || [[ " $* " == *" --help "* ]] || [[ " $* " == *" -h "* ]]; then
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
if [[ " $* " != *" --out "* ]]; then
  echo "error: --out DIR is required (where train/ and test/ with noisy/ and clean/ go)" >&2
  exit 2
fi

if ! command -v blender >/dev/null 2>&1; then
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  echo "installing blender (Debian package, about 15 s)" >&2
  $sudo_cmd apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends blender >/dev/null
fi

# Blender prints a status line per tile and per sample batch: keep the script's own lines and any error.
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! blender -b --factory-startup --python-exit-code 3 --python "$here/render_scenes.py" -- "$@" >"$log" 2>&1; then
  grep -v '^Fra:' "$log" | tail -n 40 >&2
  echo "error: blender failed (its output is above)" >&2
  exit 1
fi
grep -E '^(rendered|summary:)' "$log"
