#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the tests need, builds (warnings are errors),
# then runs every test project in turn (they start real processes; one at a time keeps 2-core machines honest).
# Usage: farm/scripts/test.sh [extra dotnet test args, e.g. --filter FullyQualifiedName~Merge]
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v dotnet >/dev/null 2>&1; then
  echo "error: the .NET 10 SDK is needed (dotnet not on PATH): see https://learn.microsoft.com/dotnet/core/install/linux-debian" >&2
  exit 2
fi

# Debian packages the tests use; installed only when missing (needs root or sudo).
packages=()
command -v setsid >/dev/null 2>&1 || packages+=(util-linux)
# The Redis store tests start their own redis-server (a free port, a temp dir); the package service is not used.
command -v redis-server >/dev/null 2>&1 || packages+=(redis-server)
# The metrics tests run a real Prometheus against a test coordinator, and promtool on farm/prometheus/.
command -v prometheus >/dev/null 2>&1 || packages+=(prometheus)
# The OpenCue endpoint tests run a pycue-style client on grpcio, the library pycue is built on.
/usr/bin/python3 -c 'import grpc' >/dev/null 2>&1 || packages+=(python3-grpcio)
# The ONNX export tests run the reference checker (onnx.checker, full_check) with Debian's python3, not a pyenv one.
/usr/bin/python3 -c 'import onnx' >/dev/null 2>&1 || packages+=(python3-onnx)
# The import tests read real Fashion-MNIST IDX files (farm/scripts/quality.sh trains on them).
[ -d /usr/share/datasets/fashion-mnist ] || packages+=(dataset-fashion-mnist)
# EXR is read and written through OpenEXR's own C library (libOpenEXRCore-3_1.so.30); its tests check against oiiotool.
[ -e /usr/lib/x86_64-linux-gnu/libOpenEXRCore-3_1.so.30 ] || ldconfig -p 2>/dev/null | grep -q 'libOpenEXRCore-3_1.so.30' || packages+=(libopenexr-3-1-30)
command -v oiiotool >/dev/null 2>&1 || packages+=(openimageio-tools)
# The render-data tests render small Cycles frames with Debian's blender (farm/scripts/render-dataset.sh).
command -v blender >/dev/null 2>&1 || packages+=(blender)
# The Explorer's browser tests drive Debian's headless chromium through Playwright (its driver is in the NuGet package; no browser download).
[ -x /usr/bin/chromium ] || packages+=(chromium)
# ... and read its printed provenance report back with poppler's pdftotext (page count, page numbers, run id).
command -v pdftotext >/dev/null 2>&1 || packages+=(poppler-utils)
if ((${#packages[@]})); then
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  echo "installing: ${packages[*]}"
  $sudo_cmd apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
echo "== build (Release)"
dotnet build RMTC.Farm.sln -c Release --nologo -v quiet -clp:ErrorsOnly

passed=0; failed=0; skipped=0; status=0
log="$(mktemp)"
for project in tests/*.Tests/*.Tests.csproj; do
  echo "== test $(basename "$(dirname "$project")")"
  if ! dotnet test "$project" -c Release --no-build --nologo "$@" 2>&1 | tee "$log"; then status=1; fi
  # xunit's summary: "Passed!  - Failed:     0, Passed:    12, Skipped:     0, Total:    12, Duration: ..."
  line="$(grep -E '(Passed|Failed)! +- Failed: ' "$log" | tail -n 1 || true)"
  if [ -z "$line" ]; then status=1; echo "no test summary from $project" >&2; continue; fi
  f="$(sed -E 's/.*Failed: +([0-9]+).*/\1/' <<<"$line")"
  p="$(sed -E 's/.*Passed: +([0-9]+).*/\1/' <<<"$line")"
  s="$(sed -E 's/.*Skipped: +([0-9]+).*/\1/' <<<"$line")"
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
done
rm -f "$log"

echo
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$status" -eq 0 ]
