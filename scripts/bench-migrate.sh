#!/usr/bin/env bash
# Benchmark: `cocoatrack-migrate migrate` against what a user would do instead, on the same
# generated data, in one invocation, on the same two local clusters.
#
#   ours      migrate V1 → an empty V2 (DATA_MODEL.md schema; all constraints in place at the end)
#   baseline  pg_dump -Fc --data-only V1 | pg_restore --data-only into a fresh database holding
#             the V1 schema (constraints and indexes in place), on the V2 cluster
#   limit     per table, psql "\copy … TO STDOUT" | psql "\copy … FROM STDIN" into V1-shaped
#             tables with no index or constraint, on the V2 cluster, one table after another
#
# Usage: scripts/bench-migrate.sh [SCALE] [RUNS]     (defaults: 1 ≈ 3.7 M rows, 3 runs)
# Prints a Markdown table with medians and ratios; copy it into BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE="${1:-1}"
RUNS="${2:-3}"

swift build -c release --product cocoatrack-migrate >&2
BIN="$(swift build -c release --show-bin-path)/cocoatrack-migrate"
export COCOATRACK_SANDBOX_DIR="$(mktemp -d /tmp/ctm-bench-XXXXXX)"
rmdir "$COCOATRACK_SANDBOX_DIR"
trap '"$BIN" sandbox down >/dev/null 2>&1 || true' EXIT
"$BIN" sandbox up >&2
eval "$("$BIN" sandbox env --superuser)"
"$BIN" generate-v1 --scale "$SCALE" --seed 42 >&2
ROWS=$(psql "$V1_DATABASE_URL" -Atc "SELECT sum(n) FROM (SELECT count(*) n FROM regions UNION ALL SELECT count(*) FROM cooperatives UNION ALL SELECT count(*) FROM users UNION ALL SELECT count(*) FROM warehouses UNION ALL SELECT count(*) FROM invoices UNION ALL SELECT count(*) FROM chef_planteurs UNION ALL SELECT count(*) FROM planteurs UNION ALL SELECT count(*) FROM deliveries UNION ALL SELECT count(*) FROM delivery_photos UNION ALL SELECT count(*) FROM audit_log) s")
TABLES="regions cooperatives users warehouses invoices chef_planteurs planteurs deliveries delivery_photos audit_log"

su_db() { echo "${V2_SUPERUSER_URL%/*}/$1?sslmode=disable"; }
owner_db() { echo "${V2_DATABASE_URL%/*}/$1?sslmode=disable"; }
admin() { psql "$(su_db postgres)" -qAtc "$1" >/dev/null; }
now() { date +%s.%N; }

fresh_v2_target() {
  admin "DROP DATABASE IF EXISTS bench_ours"
  admin "CREATE DATABASE bench_ours TEMPLATE postgres"
  admin "ALTER DATABASE bench_ours SET search_path = \"\$user\", public, extensions"
  admin "GRANT CREATE ON DATABASE bench_ours TO postgres"
}
fresh_v1_shaped() {  # $1 = database, $2 = "bare" to drop every index and constraint
  admin "DROP DATABASE IF EXISTS $1"
  admin "CREATE DATABASE $1"
  psql "$(su_db "$1")" -qX -v ON_ERROR_STOP=1 -f Sources/CocoaTrack/SQL/v1_schema.sql >/dev/null
  if [ "${2:-}" = bare ]; then
    psql "$(su_db "$1")" -qX -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
DO $$ DECLARE r record; BEGIN
  FOR r IN SELECT conrelid::regclass AS t, conname FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND contype = 'f' LOOP
    EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', r.t, r.conname); END LOOP;
  FOR r IN SELECT conrelid::regclass AS t, conname FROM pg_constraint WHERE connamespace = 'public'::regnamespace LOOP
    EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', r.t, r.conname); END LOOP;
  FOR r IN SELECT indexrelid::regclass AS i FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid WHERE c.relnamespace = 'public'::regnamespace LOOP
    EXECUTE format('DROP INDEX %s', r.i); END LOOP;
END $$;
SQL
  fi
}

declare -a T_OURS T_BASE T_LIMIT RSS_OURS
for run in $(seq 1 "$RUNS"); do
  echo "run $run/$RUNS" >&2
  fresh_v2_target; admin "CHECKPOINT"
  t0=$(now)
  /usr/bin/time -f "%M" -o /tmp/ctm-bench-rss "$BIN" migrate --allow-writable-v1 --v2 "$(owner_db bench_ours)" >/dev/null 2>&1
  t1=$(now); T_OURS+=("$(echo "$t1 - $t0" | bc)"); RSS_OURS+=("$(tail -1 /tmp/ctm-bench-rss)")

  fresh_v1_shaped bench_restore; admin "CHECKPOINT"
  t0=$(now)
  pg_dump -Fc --data-only -d "$V1_DATABASE_URL" | pg_restore --data-only --exit-on-error -d "$(su_db bench_restore)"
  t1=$(now); T_BASE+=("$(echo "$t1 - $t0" | bc)")

  fresh_v1_shaped bench_bare bare; admin "CHECKPOINT"
  t0=$(now)
  for t in $TABLES; do
    psql "$V1_DATABASE_URL" -qXc "\\copy $t TO STDOUT" | psql "$(su_db bench_bare)" -qXc "\\copy $t FROM STDIN"
  done
  t1=$(now); T_LIMIT+=("$(echo "$t1 - $t0" | bc)")
  echo "  ours ${T_OURS[-1]} s (RSS ${RSS_OURS[-1]} KB), baseline ${T_BASE[-1]} s, limit ${T_LIMIT[-1]} s" >&2
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
M_OURS=$(median "${T_OURS[@]}"); M_BASE=$(median "${T_BASE[@]}"); M_LIMIT=$(median "${T_LIMIT[@]}")
M_RSS=$(printf '%s\n' "${RSS_OURS[@]}" | sort -n | tail -1)
rate() { echo "$ROWS / $1" | bc; }
cat <<EOF2
| scale $SCALE, $ROWS rows, median of $RUNS | seconds | rows/s | vs ours |
|---|---|---|---|
| ours: \`migrate\` | $(printf %.1f "$M_OURS") | $(rate "$M_OURS") | 1.00 |
| baseline: \`pg_dump -Fc --data-only \| pg_restore\` | $(printf %.1f "$M_BASE") | $(rate "$M_BASE") | $(printf %.2f "$(echo "$M_BASE / $M_OURS" | bc -l)") (baseline / ours) |
| limit: per-table \`psql \\copy \| psql \\copy\` into bare tables | $(printf %.1f "$M_LIMIT") | $(rate "$M_LIMIT") | $(printf %.2f "$(echo "$M_OURS / $M_LIMIT" | bc -l)") (ours / limit) |

ours peak RSS: $((M_RSS / 1024)) MB (largest of the runs). Runs: ours ${T_OURS[*]}; baseline ${T_BASE[*]}; limit ${T_LIMIT[*]}.
EOF2
