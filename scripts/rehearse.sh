#!/usr/bin/env bash
# The main job, on local throwaway databases: start the sandbox (V1 + V2), fill V1 with
# generated production-like data, check both sides, migrate V1 into V2 (every reject and
# warning exported), verify the result (report in rehearsal-report/), and show where things stand.
# Usage: scripts/rehearse.sh [SCALE]   (default 0.1 ≈ 370,000 rows; 1 ≈ 3.7 M rows)
# Leaves the sandbox running for exploration; `cocoatrack-migrate sandbox down` removes it.
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE="${1:-0.1}"

swift build -c release --product cocoatrack-migrate
BIN="$(swift build -c release --show-bin-path)/cocoatrack-migrate"

"$BIN" sandbox down >/dev/null 2>&1 || true
"$BIN" sandbox up
eval "$("$BIN" sandbox env)"
"$BIN" generate-v1 --scale "$SCALE" --seed 42
"$BIN" preflight
"$BIN" inventory
"$BIN" snapshot v1 --dir snapshots --label final
"$BIN" read-only enable --app-role app_user --yes
"$BIN" snapshot v2 --dir snapshots --label pre_migration
"$BIN" migrate --rejects-csv rehearsal-rejects.csv
"$BIN" verify-integrity --export rehearsal-report
"$BIN" sandbox status
echo
echo "Verification report: rehearsal-report/report.html (also .md and .json)."
echo "V1 is read-only for app_user (undo: $BIN read-only disable). V1 and V2 are running. Explore with:"
echo "  eval \"\$($BIN sandbox env)\"; psql \"\$V1_DATABASE_URL\""
echo "Remove everything with: $BIN sandbox down"
