#!/usr/bin/env bash
# Cost growth: `migrate` and `verify-integrity` at several scales, each on a fresh sandbox with
# generated V1 data (seed 42): seconds, microseconds per V1 row, peak RSS, and verify / migrate.
# Target (issue 18): time per row within 15 % across the scales, peak RSS under 300 MB, verify no
# slower than migrate at each scale.
#
# Per scale: sandbox up, generate-v1 and VACUUM (FREEZE, ANALYZE) of V1 (not timed), then RUNS times: migrate into a fresh V2
# database (from the V2 template, as scripts/bench-migrate.sh does), verify-integrity of it.
#
# Usage: scripts/bench-scale.sh [SCALES] [RUNS]     (defaults: "0.5 1 5", 1 run each)
# Environment: CTM_BIN=path  use this binary instead of building the release one
# Prints a Markdown table; copy it into BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
SCALES="${1:-0.5 1 5}"
RUNS="${2:-1}"

. scripts/bench-lib.sh
ROWS_OUT=(); NOTES=()
for SCALE in $SCALES; do
  export COCOATRACK_SANDBOX_DIR="$(mktemp -d /tmp/ctm-scale-XXXXXX)"
  rmdir "$COCOATRACK_SANDBOX_DIR"
  trap '"$BIN" sandbox down >/dev/null 2>&1 || true' EXIT
  "$BIN" sandbox up >&2
  eval "$("$BIN" sandbox env --superuser)"
  t0=$(now); "$BIN" generate-v1 --scale "$SCALE" --seed 42 >&2; settle_v1; t1=$(now)
  GEN=$(echo "$t1 - $t0" | bc)
  ROWS=$(psql "$V1_DATABASE_URL" -Atc "SELECT sum(n) FROM (SELECT count(*) n FROM regions UNION ALL SELECT count(*) FROM cooperatives UNION ALL SELECT count(*) FROM users UNION ALL SELECT count(*) FROM warehouses UNION ALL SELECT count(*) FROM invoices UNION ALL SELECT count(*) FROM chef_planteurs UNION ALL SELECT count(*) FROM planteurs UNION ALL SELECT count(*) FROM deliveries UNION ALL SELECT count(*) FROM delivery_photos UNION ALL SELECT count(*) FROM audit_log) s")
  T_M=(); T_V=(); R_M=(); R_V=()
  for run in $(seq 1 "$RUNS"); do
    fresh_v2_target
    admin "CHECKPOINT"
    t0=$(now)
    /usr/bin/time -f "%M" -o /tmp/ctm-scale-rss "$BIN" migrate --allow-writable-v1 --v2 "$(owner_db bench_ours)" >/dev/null 2>/tmp/ctm-scale-migrate.log \
      || { tail -20 /tmp/ctm-scale-migrate.log >&2; exit 1; }
    t1=$(now); T_M+=("$(echo "$t1 - $t0" | bc)"); R_M+=("$(tail -1 /tmp/ctm-scale-rss)")
    admin "CHECKPOINT"
    t0=$(now)
    /usr/bin/time -f "%M" -o /tmp/ctm-scale-rss "$BIN" verify-integrity --v2 "$(owner_db bench_ours)" >/dev/null 2>/tmp/ctm-scale-verify.log \
      || { tail -20 /tmp/ctm-scale-verify.log >&2; exit 1; }
    t1=$(now); T_V+=("$(echo "$t1 - $t0" | bc)"); R_V+=("$(tail -1 /tmp/ctm-scale-rss)")
    echo "  scale $SCALE run $run: migrate ${T_M[-1]} s (RSS ${R_M[-1]} KB), verify ${T_V[-1]} s (RSS ${R_V[-1]} KB) [$(uptime | sed 's/.*load/load/')]" >&2
  done
  "$BIN" sandbox down >&2
  MM=$(median "${T_M[@]}"); MV=$(median "${T_V[@]}")
  RM=$(printf '%s\n' "${R_M[@]}" | sort -n | tail -1); RV=$(printf '%s\n' "${R_V[@]}" | sort -n | tail -1)
  ROWS_OUT+=("$(printf '| %s | %s | %.1f | %.2f | %d | %.1f | %.2f | %d | **%.2f** |' "$SCALE" "$ROWS" "$MM" "$(echo "$MM * 1000000 / $ROWS" | bc -l)" $((RM / 1024)) "$MV" "$(echo "$MV * 1000000 / $ROWS" | bc -l)" $((RV / 1024)) "$(echo "$MV / $MM" | bc -l)")")
  NOTES+=("scale $SCALE: generate-v1 and VACUUM (FREEZE, ANALYZE) of V1 ${GEN} s (not timed); runs (s): migrate ${T_M[*]}; verify ${T_V[*]}")
done
LOAD_AFTER="$(uptime)"
echo "| scale | V1 rows | migrate s | migrate µs/row | migrate peak RSS MB | verify s | verify µs/row | verify peak RSS MB | verify / migrate |"
echo "|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${ROWS_OUT[@]}"
echo
printf '%s\n' "${NOTES[@]}"
echo "Load before: ${LOAD_BEFORE#*load average: }; after: ${LOAD_AFTER#*load average: }."
