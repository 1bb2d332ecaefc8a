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
now() { date +%s.%N; }
T0=$(now)
"$BIN" snapshot v1 --dir snapshots --label final
T_SNAPSHOT=$(echo "$(now) - $T0" | bc)
"$BIN" read-only enable --app-role app_user --yes
"$BIN" snapshot v2 --dir snapshots --label pre_migration
T0=$(now)
"$BIN" migrate --rejects-csv rehearsal-rejects.csv
T_MIGRATE=$(echo "$(now) - $T0" | bc)
T0=$(now)
"$BIN" verify-integrity --export rehearsal-report
T_VERIFY=$(echo "$(now) - $T0" | bc)
# What the cutover plan predicts production's durations from.
ROWS=$(psql "$V1_DATABASE_URL" -Atc "SELECT sum((xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', schemaname, tablename), false, true, '')))[1]::text::bigint) FROM pg_tables WHERE schemaname = 'public'")
BYTES=$(psql "$V1_DATABASE_URL" -Atc "SELECT pg_database_size(current_database())")
printf '{\n  "measured_at": "%s",\n  "source_rows": %s,\n  "source_bytes": %s,\n  "migrate_seconds": %s,\n  "verify_seconds": %s,\n  "snapshot_seconds": %s\n}\n' \
  "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$ROWS" "$BYTES" "$T_MIGRATE" "$T_VERIFY" "$T_SNAPSHOT" > rehearsal-report/rehearsal.json
echo "rehearsal measurements: rehearsal-report/rehearsal.json (migrate $T_MIGRATE s, verify $T_VERIFY s for $ROWS rows)"
"$BIN" cutover plan --window-start "$(date -u -d 'next saturday 02:00' +%Y-%m-%dT%H:%MZ)" --rehearsal rehearsal-report/rehearsal.json
"$BIN" sandbox status
echo
echo "Verification report: rehearsal-report/report.html (also .md and .json)."
echo "V1 is read-only for app_user (undo: $BIN read-only disable). V1 and V2 are running. Explore with:"
echo "  eval \"\$($BIN sandbox env)\"; psql \"\$V1_DATABASE_URL\""
echo "Remove everything with: $BIN sandbox down"
