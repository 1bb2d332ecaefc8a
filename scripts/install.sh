#!/usr/bin/env bash
# Builds cocoatrack-migrate in release mode and installs it as PREFIX/bin/cocoatrack-migrate
# (default PREFIX /usr/local), so that the command the tool's hints print runs as printed.
# Usage: scripts/install.sh [PREFIX]
set -euo pipefail
cd "$(dirname "$0")/.."
prefix="${1:-/usr/local}"
swift build -c release --product cocoatrack-migrate
bin="$(swift build -c release --show-bin-path)/cocoatrack-migrate"
install -d "$prefix/bin"
install -m 755 "$bin" "$prefix/bin/cocoatrack-migrate"
echo "installed $prefix/bin/cocoatrack-migrate ($("$prefix/bin/cocoatrack-migrate" --version))"
case ":$PATH:" in
  *":$prefix/bin:"*) ;;
  *) echo "note: $prefix/bin is not on PATH; add it (export PATH=\"$prefix/bin:\$PATH\") or run it by its full path" ;;
esac
