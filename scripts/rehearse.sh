#!/usr/bin/env bash
# The main job: `cocoatrack-migrate rehearse` (release build) on the local sandbox.
# Usage: scripts/rehearse.sh [SCALE] [more rehearse options]   (default 0.1 ≈ 370,000 rows)
# Same as: swift run -c release cocoatrack-migrate rehearse --scale SCALE
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE="${1:-0.1}"
shift || true
swift build -c release --product cocoatrack-migrate
exec "$(swift build -c release --show-bin-path)/cocoatrack-migrate" rehearse --scale "$SCALE" "$@"
