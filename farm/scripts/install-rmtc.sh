#!/usr/bin/env bash
# Puts `rmtc` on PATH: publishes the CLI from this checkout (framework-dependent: the .NET 10 runtime the SDK brought
# is used) into PREFIX/lib/rmtc and writes PREFIX/bin/rmtc, a two-line launcher for it. The publish applies the same
# TorchSharp native-library step as the build (see src/RMTC.Farm.Training/build/LibTorchSharpCompat.targets), so the
# installed rmtc trains on Debian 12. Run it again after a pull to update; the old install is replaced only once the
# new one is published.
# Usage: farm/scripts/install-rmtc.sh [--prefix DIR]   (default ~/.local: ~/.local/lib/rmtc and ~/.local/bin/rmtc)
set -euo pipefail

prefix="${HOME}/.local"
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || { echo "install-rmtc.sh: --prefix needs a directory" >&2; exit 2; }; prefix="$2"; shift 2 ;;
    --prefix=*) prefix="${1#*=}"; shift ;;
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install-rmtc.sh: unknown option '$1' (usage: install-rmtc.sh [--prefix DIR])" >&2; exit 2 ;;
  esac
done

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
command -v dotnet >/dev/null 2>&1 || { echo "install-rmtc.sh: no dotnet on PATH: install the .NET 10 SDK first" >&2; exit 1; }
case "$(uname -m)" in
  x86_64) rid=linux-x64 ;;
  aarch64|arm64) rid=linux-arm64 ;;
  *) echo "install-rmtc.sh: no .NET runtime identifier known for $(uname -m)" >&2; exit 1 ;;
esac

mkdir -p "$prefix"
prefix="$(cd "$prefix" && pwd)"
lib="$prefix/lib/rmtc"
bin="$prefix/bin"
staging="$lib.new.$$"
trap 'rm -rf "$staging"' EXIT

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
echo "publishing rmtc ($rid) from $repo into $lib ..."
# One runtime identifier keeps only that system's native libraries (about 520 MB instead of 770 MB with libtorch).
dotnet publish "$repo/src/RMTC.Farm.Cli" -c Release -r "$rid" --self-contained false -o "$staging" --nologo -v quiet -clp:ErrorsOnly

rm -rf "$lib.old"
if [ -e "$lib" ]; then mv "$lib" "$lib.old"; fi
mv "$staging" "$lib"
rm -rf "$lib.old"

# A launcher rather than a symlink: the apphost finds the runtime through DOTNET_ROOT when dotnet is not installed in
# the system location (e.g. ~/.dotnet from dotnet-install.sh).
dotnet_root="$(dirname "$(readlink -f "$(command -v dotnet)")")"
mkdir -p "$bin"
cat > "$bin/rmtc.new.$$" <<LAUNCHER
#!/bin/sh
DOTNET_ROOT="\${DOTNET_ROOT:-$dotnet_root}" exec "$lib/rmtc" "\$@"
LAUNCHER
chmod 755 "$bin/rmtc.new.$$"
mv "$bin/rmtc.new.$$" "$bin/rmtc"

"$bin/rmtc" --version >/dev/null
echo "installed: $bin/rmtc -> $lib/rmtc"
case ":$PATH:" in
  *":$bin:"*) echo "try: rmtc --help" ;;
  *) echo "$bin is not on your PATH; add it (e.g. echo 'export PATH=\"$bin:\$PATH\"' >> ~/.bashrc), then: rmtc --help" ;;
esac
