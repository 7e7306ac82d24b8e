#!/usr/bin/env bash
# Builds this machine's npm packages into target/npm/ (`npm pack` tarballs):
#   @ioctl-cli/ioctl              the launcher (bin/ioctl.js), with every platform package as an
#                                 optional dependency
#   @ioctl-cli/ioctl-<platform>   this machine's binary, and the pinned Node package sets its
#                                 first link would install with npm (packages/), so it needs
#                                 no network
# Usage: npm/pack.sh [--binary PATH] [--out DIR]
#   --binary  an ioctl binary already built (default: `cargo build --release --locked`)
#   --out     where the tarballs go (default: target/npm)
# The release workflow (.github/workflows/release.yml) runs it once per target.
set -euo pipefail
cd "$(dirname "$0")/.."

binary=""
out="target/npm"
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "usage: npm/pack.sh [--binary PATH] [--out DIR]" >&2; exit 2 ;;
  esac
done
if [ -z "$binary" ]; then
  cargo build --release --locked
  binary=target/release/ioctl
fi
[ -x "$binary" ] || { echo "npm/pack.sh: $binary is not an executable ioctl binary" >&2; exit 1; }

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
# This machine's target, as the launcher will look for it.
key=$(node -e '
  const p = require("./npm/ioctl/lib/platform")
  const targets = require("./npm/targets.json")
  const libc = process.platform === "linux" ? p.linuxLibc(process.report.getReport()) : null
  const t = p.targetFor(targets, process.platform, process.arch, libc)
  if (!t) { console.error(p.missingMessage(targets, process.platform, process.arch, libc, null)); process.exit(1) }
  console.log(t.key)')

mkdir -p "$out"
out=$(cd "$out" && pwd)
stage="$out/stage"
rm -rf "$stage"
mkdir -p "$stage/ioctl" "$stage/platform/bin"

cp -R npm/ioctl/bin npm/ioctl/lib npm/ioctl/README.md "$stage/ioctl/"
cp npm/targets.json "$stage/ioctl/"
cp "$binary" "$stage/platform/bin/ioctl"
# A debug build carries hundreds of MB of debug info nobody installing it needs.
if command -v strip >/dev/null 2>&1; then strip --strip-debug "$stage/platform/bin/ioctl" 2>/dev/null || true; fi
chmod 755 "$stage/platform/bin/ioctl"
"$stage/platform/bin/ioctl" --color never packages --into "$stage/platform/packages" >/dev/null
printf '%s\n' "# @ioctl-cli/ioctl-$key" "" "The ioctl binary for $key and the Node packages its first link needs. Install \`@ioctl-cli/ioctl\`, which picks this package for your machine." >"$stage/platform/README.md"
node npm/stage.js "$stage/ioctl" "$stage/platform" "$key" "$version"

rm -f "$out"/*.tgz
(cd "$out" && npm pack --silent "$stage/ioctl" "$stage/platform" >/dev/null)
ls "$out"/*.tgz
