#!/usr/bin/env bash
# Benchmark: `cocoatrack-migrate migrate` against what a user would do instead, and against the
# floor of rebuilding V2's own end state, on the same generated data, in one invocation, on the
# same two local clusters.
#
#   ours      migrate V1 → an empty V2 database (DATA_MODEL.md schema; every key, index and
#             foreign key present and validated at the end, tables analysed)
#   baseline  pg_dump -Fc --data-only V1 | pg_restore --data-only into a fresh database holding
#             the V1 schema (constraints and indexes in place), on the V2 cluster
#   floor     V2's own end state rebuilt from a dump of itself: after the first `migrate`,
#             `pg_dump -Fc -N cocoatrack_migration` of the migrated V2 database (every schema of
#             V2, i.e. public and Supabase's auth and extensions, with their rows: the ten public
#             tables, auth.users and auth.identities; without the tool's own state schema), made
#             once, untimed. Per run: a fresh database from template0 (roles are the cluster's),
#             `pg_restore --section=pre-data` (schemas, extensions, types, functions, bare
#             tables; untimed), then timed `pg_restore --section=data --section=post-data`: every
#             row by COPY, then every primary key, unique constraint, index, trigger, policy and
#             validated foreign key: the same end state migrate builds, with no V1 read, no
#             mapping, no checkpoints. Once serial, once with `-j 2`.
#   limit     (LIMIT_ROW=1 only) per table, psql "\copy … TO STDOUT" | psql "\copy … FROM STDIN"
#             into V1-shaped tables with no index or constraint: builds no end state.
#
# The runs are interleaved (ours, baseline, floor, floor -j 2 in every run), so load from other
# work on the machine spreads over all of them; `uptime` is printed before and after.
#
# Usage: scripts/bench-migrate.sh [SCALE] [RUNS]     (defaults: 1 ≈ 3.7 M rows, 3 runs)
# Environment: CTM_BIN=path  use this binary instead of building the release one
#              MIGRATE_ARGS="…"  extra flags for `migrate` (e.g. "--jobs 3")
#              LIMIT_ROW=1  also time the bare-copy limit
# Prints a Markdown table with medians and ratios; copy it into BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE="${1:-1}"
RUNS="${2:-3}"
LIMIT_ROW="${LIMIT_ROW:-0}"
MIGRATE_ARGS="${MIGRATE_ARGS:-}"

. scripts/bench-lib.sh
export COCOATRACK_SANDBOX_DIR="$(mktemp -d /tmp/ctm-bench-XXXXXX)"
rmdir "$COCOATRACK_SANDBOX_DIR"
DUMP="$(mktemp /tmp/ctm-bench-v2-XXXXXX.dump)"
trap '"$BIN" sandbox down >/dev/null 2>&1 || true; rm -f "$DUMP"' EXIT
"$BIN" sandbox up >&2
eval "$("$BIN" sandbox env --superuser)"
"$BIN" generate-v1 --scale "$SCALE" --seed 42 >&2
settle_v1
ROWS=$(psql "$V1_DATABASE_URL" -Atc "SELECT sum(n) FROM (SELECT count(*) n FROM regions UNION ALL SELECT count(*) FROM cooperatives UNION ALL SELECT count(*) FROM users UNION ALL SELECT count(*) FROM warehouses UNION ALL SELECT count(*) FROM invoices UNION ALL SELECT count(*) FROM chef_planteurs UNION ALL SELECT count(*) FROM planteurs UNION ALL SELECT count(*) FROM deliveries UNION ALL SELECT count(*) FROM delivery_photos UNION ALL SELECT count(*) FROM audit_log) s")
TABLES="regions cooperatives users warehouses invoices chef_planteurs planteurs deliveries delivery_photos audit_log"

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
# A database holding V2's pre-data (schemas, extensions, functions, bare tables), from the dump.
fresh_floor() {
  admin "DROP DATABASE IF EXISTS bench_floor"
  admin "CREATE DATABASE bench_floor TEMPLATE template0"
  pg_restore --section=pre-data --exit-on-error -d "$(su_db bench_floor)" "$DUMP"
}
# The floor's end state must equal ours: same rows per table, same indexes and constraints, all
# foreign keys validated (checked once, after the first floor restore).
end_state() {
  psql "$(su_db "$1")" -qAtX <<'SQL'
SELECT 'rows ' || string_agg(format('%s=%s', t, (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %s', t), false, true, '')))[1]::text), ' ' ORDER BY t)
  FROM unnest(ARRAY['public.regions','public.cooperatives','public.profiles','public.warehouses','public.invoices','public.chef_planteurs','public.planteurs','public.deliveries','public.delivery_photos','public.audit_log','auth.users','auth.identities']) t;
SELECT 'constraints ' || count(*) || ' unvalidated ' || count(*) FILTER (WHERE NOT convalidated) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname IN ('public', 'auth');
SELECT 'indexes ' || count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('public', 'auth');
SELECT 'policies ' || count(*) FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('public', 'auth');
SELECT 'triggers ' || count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT t.tgisinternal AND n.nspname IN ('public', 'auth');
SQL
}

declare -a T_OURS T_BASE T_FLOOR T_FLOOR2 T_LIMIT RSS_OURS
for run in $(seq 1 "$RUNS"); do
  echo "run $run/$RUNS ($(uptime | sed 's/.*load/load/'))" >&2
  fresh_v2_target; admin "CHECKPOINT"
  t0=$(now)
  # shellcheck disable=SC2086
  /usr/bin/time -f "%M" -o /tmp/ctm-bench-rss "$BIN" migrate --allow-writable-v1 $MIGRATE_ARGS --v2 "$(owner_db bench_ours)" >/dev/null 2>/tmp/ctm-bench-migrate.log \
    || { tail -20 /tmp/ctm-bench-migrate.log >&2; exit 1; }
  t1=$(now); T_OURS+=("$(echo "$t1 - $t0" | bc)"); RSS_OURS+=("$(tail -1 /tmp/ctm-bench-rss)")
  if [ "$run" = 1 ]; then
    pg_dump -Fc -N cocoatrack_migration -d "$(su_db bench_ours)" -f "$DUMP"
    echo "  V2 dump: $(du -m "$DUMP" | cut -f1) MB" >&2
  fi

  fresh_v1_shaped bench_restore; admin "CHECKPOINT"
  t0=$(now)
  pg_dump -Fc --data-only -d "$V1_DATABASE_URL" | pg_restore --data-only --exit-on-error -d "$(su_db bench_restore)"
  t1=$(now); T_BASE+=("$(echo "$t1 - $t0" | bc)")
  admin "DROP DATABASE bench_restore"

  fresh_floor; admin "CHECKPOINT"
  t0=$(now)
  pg_restore --section=data --section=post-data --exit-on-error -d "$(su_db bench_floor)" "$DUMP"
  t1=$(now); T_FLOOR+=("$(echo "$t1 - $t0" | bc)")
  if [ "$run" = 1 ]; then
    A=$(end_state bench_ours); B=$(end_state bench_floor)
    if [ "$A" != "$B" ]; then
      printf 'end states differ:\nours:  %s\nfloor: %s\n' "$A" "$B" >&2; exit 1
    fi
    echo "  end state (ours = floor): $(echo "$A" | tr '\n' ';' | cut -c1-400)" >&2
  fi

  fresh_floor; admin "CHECKPOINT"
  t0=$(now)
  pg_restore --section=data --section=post-data -j 2 --exit-on-error -d "$(su_db bench_floor)" "$DUMP"
  t1=$(now); T_FLOOR2+=("$(echo "$t1 - $t0" | bc)")
  admin "DROP DATABASE bench_floor"

  if [ "$LIMIT_ROW" = 1 ]; then
    fresh_v1_shaped bench_bare bare; admin "CHECKPOINT"
    t0=$(now)
    for t in $TABLES; do
      psql "$V1_DATABASE_URL" -qXc "\\copy $t TO STDOUT" | psql "$(su_db bench_bare)" -qXc "\\copy $t FROM STDIN"
    done
    t1=$(now); T_LIMIT+=("$(echo "$t1 - $t0" | bc)")
    admin "DROP DATABASE bench_bare"
  fi
  echo "  ours ${T_OURS[-1]} s (RSS ${RSS_OURS[-1]} KB), baseline ${T_BASE[-1]} s, floor ${T_FLOOR[-1]} s, floor -j 2 ${T_FLOOR2[-1]} s${T_LIMIT:+, limit ${T_LIMIT[-1]} s}" >&2
done
LOAD_AFTER="$(uptime)"

M_OURS=$(median "${T_OURS[@]}"); M_BASE=$(median "${T_BASE[@]}")
M_FLOOR=$(median "${T_FLOOR[@]}"); M_FLOOR2=$(median "${T_FLOOR2[@]}")
M_RSS=$(printf '%s\n' "${RSS_OURS[@]}" | sort -n | tail -1)
rate() { echo "$ROWS / $1" | bc; }
ratio() { printf %.2f "$(echo "$1 / $2" | bc -l)"; }
cat <<EOF2
| scale $SCALE, $ROWS V1 rows, median of $RUNS | seconds | rows/s | ratio |
|---|---|---|---|
| ours: \`migrate${MIGRATE_ARGS:+ $MIGRATE_ARGS}\` | $(printf %.1f "$M_OURS") | $(rate "$M_OURS") | 1.00 |
| baseline: \`pg_dump -Fc --data-only \| pg_restore\` of V1 | $(printf %.1f "$M_BASE") | $(rate "$M_BASE") | $(ratio "$M_BASE" "$M_OURS")× (baseline / ours) |
| floor: \`pg_restore\` of V2's end state | $(printf %.1f "$M_FLOOR") | $(rate "$M_FLOOR") | $(ratio "$M_OURS" "$M_FLOOR")× (ours / floor) |
| floor: \`pg_restore -j 2\` of V2's end state | $(printf %.1f "$M_FLOOR2") | $(rate "$M_FLOOR2") | **$(ratio "$M_OURS" "$M_FLOOR2")×** (ours / floor) |
EOF2
if [ "$LIMIT_ROW" = 1 ]; then
  M_LIMIT=$(median "${T_LIMIT[@]}")
  echo "| limit: per-table \`psql \\copy | psql \\copy\` into bare V1-shaped tables (no end state) | $(printf %.1f "$M_LIMIT") | $(rate "$M_LIMIT") | $(ratio "$M_OURS" "$M_LIMIT")× (ours / limit) |"
fi
cat <<EOF2

ours peak RSS: $((M_RSS / 1024)) MB (largest of the runs). Runs (s): ours ${T_OURS[*]}; baseline ${T_BASE[*]}; floor ${T_FLOOR[*]}; floor -j 2 ${T_FLOOR2[*]}${T_LIMIT:+; limit ${T_LIMIT[*]}}.
Load before: ${LOAD_BEFORE#*load average: }; after: ${LOAD_AFTER#*load average: }.
EOF2
