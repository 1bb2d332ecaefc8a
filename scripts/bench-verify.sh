#!/usr/bin/env bash
# Benchmark: `cocoatrack-migrate verify-integrity` against `migrate` and against reladiff (PyPI
# `reladiff`, the maintained fork of data-diff), on the same generated data, in one invocation, on
# the same two local clusters.
#
#   verify vs migrate   full `verify-integrity` (every table) against `migrate` V1 → an empty V2
#                       (target: verify no slower than migrate)
#   ours vs reladiff    on deliveries only: `verify-integrity --only deliveries` against reladiff
#                       comparing the view public.bench_v2_deliveries (scripts/sql/
#                       v1_deliveries_as_v2.sql: V1 deliveries as the migration writes them, ids
#                       by uuid-ossp's uuid_generate_v5, every mapping and rejection rule in SQL)
#                       with V2's public.deliveries, key id, every column; first on identical
#                       data, then after 20 differences injected into V2 (8 updates of 8
#                       different columns, 6 deletes, 6 inserts). Target: both find exactly the
#                       20 injected keys, and ours is at least 2× faster than reladiff.
#   reladiff variants   "view": the view alone. reladiff bisects the key range and asks each
#                       segment for a checksum (WHERE id >= a AND id < b); through the view that
#                       filter is on a computed uuid, so every segment query scans all of V1's
#                       deliveries. "view+index": the same with an expression index on V1
#                       deliveries (uuid_generate_v5(ns, 'deliveries:' || id::text)), which turns
#                       those into index range scans: reladiff's best case, though it needs a
#                       schema change on V1 (its build time is reported, not counted). The 2×
#                       target is checked against each.
#
# Order: migrate (RUNS runs, V2 emptied by `rollback --clear-v2` between them), ours on identical
# data, then the view is created and proven equal to V2's table (both dumped with \copy, sorted
# by id, compared byte for byte; the script stops if they differ), reladiff on identical data,
# the injection, reladiff again, the bench objects dropped, ours again. The view, its enum type and
# (when the script created it) the uuid-ossp extension are dropped again before the end, so V1
# is left as found; the whole sandbox is thrown away on exit anyway.
#
# Usage: scripts/bench-verify.sh [SCALE] [RUNS]     (defaults: 1 ≈ 3.7 M rows, 3 runs)
#        DIFF_RUNS=N (reladiff runs after the injection, default RUNS), VIEW_DIFF_TIMEOUT=S (default 1200)
# Environment: CTM_BIN=path  use this binary instead of building one (release build by default,
#              in the scratch path BENCH_SCRATCH_PATH, default .build-release)
#              RELADIFF_THREADS=N  reladiff's --threads (default: nproc)
# Prints PASS/FAIL lines and a Markdown table with medians and ratios; copy it into BENCHMARKS.md.
# Exits 1 when a correctness check fails (the view, or either tool not finding exactly the
# injected differences); performance targets missed are reported as FAIL lines but do not change
# the exit code.
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE="${1:-1}"
RUNS="${2:-3}"
# reladiff after the injection is slow (its bisection re-reads the view per segment): runs of that
# phase, and a time limit for the view-only variant (a run stopped at the limit is reported as
# "> limit", and its output is not checked).
DIFF_RUNS="${DIFF_RUNS:-$RUNS}"
VIEW_DIFF_TIMEOUT="${VIEW_DIFF_TIMEOUT:-1200}"
RD_VIEW_DIFF_TIMED_OUT=0

if [ -z "${CTM_BIN:-}" ]; then
  SCRATCH="${BENCH_SCRATCH_PATH:-.build-release}"
  swift build -c release --scratch-path "$SCRATCH" --product cocoatrack-migrate >&2
  BIN="$(swift build -c release --scratch-path "$SCRATCH" --show-bin-path)/cocoatrack-migrate"
else
  BIN="$(cd "$(dirname "$CTM_BIN")" && pwd)/$(basename "$CTM_BIN")"
fi
# A command that exists names itself in its usage error ("Usage: cocoatrack-migrate verify-integrity …").
if ! { "$BIN" verify-integrity --no-such-option 2>&1 || true; } | grep -q "cocoatrack-migrate verify-integrity"; then
  echo "error: $BIN has no verify-integrity command" >&2; exit 1
fi

# reladiff (bench only, not a project dependency): installed here when missing.
if ! command -v reladiff >/dev/null 2>&1 || ! python3 -c 'import reladiff, psycopg2' >/dev/null 2>&1; then
  echo "installing reladiff[postgresql] with pip" >&2
  python3 -m pip install --quiet 'reladiff[postgresql]' >&2
fi
RELADIFF_VERSION="$(reladiff --version | tr -d 'v')"
RELADIFF_THREADS="${RELADIFF_THREADS:-$(nproc)}"

WORK="$(mktemp -d /tmp/ctm-bench-verify-XXXXXX)"   # dumps, logs, reports of this run
# The sandbox creates its own directory (its servers may run as another OS user).
export COCOATRACK_SANDBOX_DIR="$(mktemp -d /tmp/ctm-bench-XXXXXX)"
rmdir "$COCOATRACK_SANDBOX_DIR"
cleanup() {
  "$BIN" sandbox down >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
"$BIN" sandbox up >&2
eval "$("$BIN" sandbox env --superuser)"
"$BIN" generate-v1 --scale "$SCALE" --seed 42 >&2
settle_v1
export PGTZ=UTC
q1() { psql "$V1_SUPERUSER_URL" -qAtX -v ON_ERROR_STOP=1 -c "$1"; }
q2() { psql "$V2_SUPERUSER_URL" -qAtX -v ON_ERROR_STOP=1 -c "$1"; }
ROWS=$(q1 "SELECT sum(n) FROM (SELECT count(*) n FROM regions UNION ALL SELECT count(*) FROM cooperatives UNION ALL SELECT count(*) FROM users UNION ALL SELECT count(*) FROM warehouses UNION ALL SELECT count(*) FROM invoices UNION ALL SELECT count(*) FROM chef_planteurs UNION ALL SELECT count(*) FROM planteurs UNION ALL SELECT count(*) FROM deliveries UNION ALL SELECT count(*) FROM delivery_photos UNION ALL SELECT count(*) FROM audit_log) s")
V1_DELIVERIES=$(q1 "SELECT count(*) FROM public.deliveries")

now() { date +%s.%N; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
checkpoint() { q1 "CHECKPOINT" >/dev/null; q2 "CHECKPOINT" >/dev/null; }
FAILED=0
declare -a CHECKS
pass() { CHECKS+=("PASS $*"); echo "PASS $*" >&2; }
fail() { CHECKS+=("FAIL $*"); echo "FAIL $*" >&2; }
check() { if [ "$1" = 0 ]; then pass "$2"; else fail "$2"; FAILED=1; fi; }

# ---- migrate: RUNS runs, each into an emptied V2 (rollback --clear-v2, not timed) ----------------
declare -a T_MIGRATE
for run in $(seq 1 "$RUNS"); do
  if [ "$run" -gt 1 ]; then
    "$BIN" rollback --clear-v2 --yes --no-snapshot >"$WORK/rollback.log" 2>&1 || { tail -20 "$WORK/rollback.log" >&2; echo "error: rollback --clear-v2 failed" >&2; exit 1; }
  fi
  checkpoint
  t0=$(now)
  "$BIN" migrate --allow-writable-v1 >"$WORK/migrate.log" 2>&1 || { tail -20 "$WORK/migrate.log" >&2; echo "error: migrate failed" >&2; exit 1; }
  t1=$(now); T_MIGRATE+=("$(echo "$t1 - $t0" | bc)")
  echo "migrate run $run/$RUNS: ${T_MIGRATE[-1]} s" >&2
done
V2_DELIVERIES=$(q2 "SELECT count(*) FROM public.deliveries")
checkpoint

# ---- ours on identical data (before any bench object exists in V1) -------------------------------
declare -a T_ALL T_OURS_SAME T_OURS_DIFF T_RD_SAME T_RD_DIFF T_RDX_SAME T_RDX_DIFF
for run in $(seq 1 "$RUNS"); do
  rc=0; t0=$(now)
  "$BIN" verify-integrity >"$WORK/verify-all.log" 2>&1 || rc=$?
  t1=$(now); T_ALL+=("$(echo "$t1 - $t0" | bc)")
  echo "verify-integrity (all) run $run/$RUNS: ${T_ALL[-1]} s, exit $rc" >&2
  if [ "$run" -eq 1 ]; then
    [ "$rc" = 0 ] || tail -30 "$WORK/verify-all.log" >&2
    check "$rc" "verify-integrity (all tables) passes on the migrated data (exit $rc, expected 0)"
  fi
done
for run in $(seq 1 "$RUNS"); do
  rc=0; t0=$(now)
  "$BIN" verify-integrity --only deliveries >"$WORK/verify-same.log" 2>&1 || rc=$?
  t1=$(now); T_OURS_SAME+=("$(echo "$t1 - $t0" | bc)")
  echo "verify-integrity --only deliveries, identical, run $run/$RUNS: ${T_OURS_SAME[-1]} s, exit $rc" >&2
  if [ "$run" -eq 1 ]; then
    [ "$rc" = 0 ] || tail -30 "$WORK/verify-same.log" >&2
    check "$rc" "verify-integrity --only deliveries passes on identical data (exit $rc, expected 0)"
  fi
done

# ---- the V2-shaped view over V1, proven equal to V2's table ---------------------------------------
HAD_UUID_OSSP=$(q1 "SELECT count(*) FROM pg_extension WHERE extname = 'uuid-ossp'")
drop_bench_objects() {
  q1 "SET client_min_messages = warning; DROP VIEW IF EXISTS public.bench_v2_deliveries; DROP INDEX IF EXISTS public.bench_deliveries_v2_id; DROP TYPE IF EXISTS public.bench_quality_grade" >/dev/null
  if [ "$HAD_UUID_OSSP" = 0 ]; then q1 'SET client_min_messages = warning; DROP EXTENSION IF EXISTS "uuid-ossp"' >/dev/null; fi
}
V1_OBJECTS_SQL="SELECT (SELECT count(*) FROM pg_extension WHERE extname = 'uuid-ossp') || ' ' ||
  (SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace) || ' ' ||
  (SELECT count(*) FROM pg_type WHERE typnamespace = 'public'::regnamespace) || ' ' ||
  (SELECT count(*) FROM pg_proc WHERE pronamespace = 'public'::regnamespace)"
V1_OBJECTS_BEFORE=$(q1 "$V1_OBJECTS_SQL")
psql "$V1_SUPERUSER_URL" -qX -v ON_ERROR_STOP=1 -f scripts/sql/v1_deliveries_as_v2.sql >/dev/null 2>"$WORK/view.err" || { cat "$WORK/view.err" >&2; exit 1; }
COLS="id, planteur_id, warehouse_id, invoice_id, created_by, delivered_on, weight_kg, bags, quality_grade::text, humidity_pct, price_per_kg, total_amount, notes, created_at, updated_at"
psql "$V1_SUPERUSER_URL" -qX -v ON_ERROR_STOP=1 -c "\\copy (SELECT $COLS FROM public.bench_v2_deliveries ORDER BY id) TO '$WORK/view.tsv'"
psql "$V2_SUPERUSER_URL" -qX -v ON_ERROR_STOP=1 -c "\\copy (SELECT $COLS FROM public.deliveries ORDER BY id) TO '$WORK/v2.tsv'"
VIEW_ROWS=$(wc -l <"$WORK/view.tsv")
if cmp -s "$WORK/view.tsv" "$WORK/v2.tsv"; then
  pass "view public.bench_v2_deliveries = V2 public.deliveries ($VIEW_ROWS rows, every column, byte-identical dumps)"
else
  fail "view public.bench_v2_deliveries differs from V2 public.deliveries: view $VIEW_ROWS rows, V2 $(wc -l <"$WORK/v2.tsv") rows; lines only in one side: $(comm -3 "$WORK/view.tsv" "$WORK/v2.tsv" | wc -l)"
  diff "$WORK/view.tsv" "$WORK/v2.tsv" | head -10 >&2 || true
  echo "error: the view does not reproduce the migration; no comparison with reladiff is meaningful" >&2
  drop_bench_objects; exit 1
fi

# reladiff: cross-database hashdiff, key id, every other column compared; JSONL on stdout (rich
# wraps lines at the terminal width unless COLUMNS is large; --skip-sort-results because sorting
# an update's -/+ pair compares NULL with text and fails in reladiff 0.6.0).
RD_COLS=()
for c in planteur_id warehouse_id invoice_id created_by delivered_on weight_kg bags quality_grade humidity_pct price_per_kg total_amount notes created_at updated_at; do RD_COLS+=(-c "$c"); done
RELADIFF_CMD=(reladiff "$V1_SUPERUSER_URL" public.bench_v2_deliveries "$V2_SUPERUSER_URL" public.deliveries -k id "${RD_COLS[@]}" --threads "$RELADIFF_THREADS" --json --skip-sort-results)
RELADIFF_SHOWN="reladiff \"\$V1_SUPERUSER_URL\" public.bench_v2_deliveries \"\$V2_SUPERUSER_URL\" public.deliveries -k id $(printf -- '%s ' "${RD_COLS[@]}")--threads $RELADIFF_THREADS --json --skip-sort-results"
run_reladiff() {  # $1 = output file, $2 = optional time limit (s); prints seconds or "timeout"
  local t0 t1 rc=0
  t0=$(now)
  if [ -n "${2:-}" ]; then
    COLUMNS=1000000 timeout "$2" "${RELADIFF_CMD[@]}" >"$1" 2>"$1.err" || rc=$?
    if [ "$rc" = 124 ]; then echo timeout; return 0; fi
  else
    COLUMNS=1000000 "${RELADIFF_CMD[@]}" >"$1" 2>"$1.err" || rc=$?
  fi
  t1=$(now)
  if [ "$rc" != 0 ] || grep -q " ERROR " "$1.err"; then
    grep -v " WARNING " "$1.err" >&2; echo "error: reladiff failed (exit $rc)" >&2; return 1
  fi
  echo "$t1 - $t0" | bc
}
RD_SAME_LINES=0
reladiff_runs() {  # $1 = array name for the times, $2 = label, $3 = output file, $4 = runs, $5 = time limit
  local -n acc=$1
  local run lines t n="${4:-$RUNS}"
  for run in $(seq 1 "$n"); do
    t=$(run_reladiff "$3" "${5:-}") || { drop_bench_objects; exit 1; }
    if [ "$t" = timeout ]; then
      acc+=("$5"); RD_VIEW_DIFF_TIMED_OUT=1
      echo "reladiff ($2), run $run/$n: stopped at the $5 s limit" >&2
      break
    fi
    acc+=("$t")
    lines=$(wc -l <"$3")
    echo "reladiff ($2), run $run/$n: $t s, $lines diff lines" >&2
    case "$3" in *same*) RD_SAME_LINES=$((RD_SAME_LINES + lines)) ;; esac
  done
}
create_index() {
  local t0 t1
  checkpoint; t0=$(now)
  q1 "CREATE INDEX bench_deliveries_v2_id ON public.deliveries (uuid_generate_v5('4b6f0c3e-2a1d-4c8e-9f57-3d2e1a0b9c8d'::uuid, 'deliveries:' || id::text)); ANALYZE public.deliveries" >/dev/null
  t1=$(now); T_INDEX=$(echo "$t1 - $t0" | bc)
  echo "expression index on V1 deliveries built in $T_INDEX s" >&2
}
checkpoint
reladiff_runs T_RD_SAME "view, identical" "$WORK/reladiff-same.jsonl"
create_index
reladiff_runs T_RDX_SAME "view+index, identical" "$WORK/reladiff-same-index.jsonl"
check "$([ "$RD_SAME_LINES" = 0 ] && echo 0 || echo 1)" "reladiff reports 0 differences on identical data ($RD_SAME_LINES diff lines over $((2 * RUNS)) runs)"

# ---- inject 20 differences into V2 deliveries, in one transaction -----------------------------
psql "$V2_SUPERUSER_URL" -qAtX -v ON_ERROR_STOP=1 >"$WORK/injected.tsv" <<'SQL'
BEGIN;
-- 14 existing rows with a creator, spread over the key space (deterministic for a given V1).
CREATE TEMP TABLE bench_picks ON COMMIT DROP AS
  SELECT id, row_number() OVER (ORDER BY md5(id::text)) AS n
  FROM (SELECT id FROM public.deliveries WHERE created_by IS NOT NULL ORDER BY md5(id::text) LIMIT 14) s;
CREATE TEMP TABLE bench_injected (kind text, id uuid) ON COMMIT DROP;
-- 8 updates, each of a different column
UPDATE public.deliveries d SET weight_kg = d.weight_kg + 1 FROM bench_picks p WHERE p.id = d.id AND p.n = 1;
UPDATE public.deliveries d SET notes = coalesce(d.notes || ' ', '') || '(edited in V2)' FROM bench_picks p WHERE p.id = d.id AND p.n = 2;
UPDATE public.deliveries d SET quality_grade = CASE WHEN d.quality_grade = 'grade_a' THEN 'grade_b' ELSE 'grade_a' END::public.quality_grade
  FROM bench_picks p WHERE p.id = d.id AND p.n = 3;
UPDATE public.deliveries d SET delivered_on = d.delivered_on + 1 FROM bench_picks p WHERE p.id = d.id AND p.n = 4;
UPDATE public.deliveries d SET total_amount = d.total_amount + 1 FROM bench_picks p WHERE p.id = d.id AND p.n = 5;
UPDATE public.deliveries d SET created_by = NULL FROM bench_picks p WHERE p.id = d.id AND p.n = 6;
UPDATE public.deliveries d SET bags = coalesce(d.bags, 0) + 1 FROM bench_picks p WHERE p.id = d.id AND p.n = 7;
UPDATE public.deliveries d SET updated_at = d.updated_at + interval '1 second' FROM bench_picks p WHERE p.id = d.id AND p.n = 8;
INSERT INTO bench_injected SELECT 'changed', id FROM bench_picks WHERE n <= 8;
-- 6 deletes (their delivery_photos go too, by ON DELETE CASCADE)
WITH gone AS (DELETE FROM public.deliveries d USING bench_picks p WHERE p.id = d.id AND p.n BETWEEN 9 AND 14 RETURNING d.id)
INSERT INTO bench_injected SELECT 'missing_in_v2', id FROM gone;
-- 6 inserts: copies of existing rows under a new random id
WITH added AS (
  INSERT INTO public.deliveries (id, planteur_id, warehouse_id, invoice_id, created_by, delivered_on, weight_kg, bags, quality_grade,
                                 humidity_pct, price_per_kg, total_amount, notes, created_at, updated_at)
  SELECT gen_random_uuid(), planteur_id, warehouse_id, invoice_id, created_by, delivered_on, weight_kg, bags, quality_grade,
         humidity_pct, price_per_kg, total_amount, notes, created_at, updated_at
  FROM public.deliveries WHERE id NOT IN (SELECT id FROM bench_picks) ORDER BY md5(id::text) DESC LIMIT 6
  RETURNING id)
INSERT INTO bench_injected SELECT 'unexpected_in_v2', id FROM added;
\copy (SELECT kind, id FROM bench_injected ORDER BY kind, id) TO STDOUT
COMMIT;
SQL
INJECTED=$(wc -l <"$WORK/injected.tsv")
[ "$INJECTED" = 20 ] || { echo "error: injected $INJECTED differences, expected 20" >&2; drop_bench_objects; exit 1; }
checkpoint

reladiff_runs T_RDX_DIFF "view+index, 20 differences" "$WORK/reladiff-diff-index.jsonl" "$DIFF_RUNS"
q1 "DROP INDEX public.bench_deliveries_v2_id" >/dev/null
checkpoint
reladiff_runs T_RD_DIFF "view, 20 differences" "$WORK/reladiff-diff.jsonl" "$DIFF_RUNS" "$VIEW_DIFF_TIMEOUT"
drop_bench_objects   # V1 as found again before ours runs on the modified V2
V1_OBJECTS_AFTER=$(q1 "$V1_OBJECTS_SQL")
check "$([ "$V1_OBJECTS_AFTER" = "$V1_OBJECTS_BEFORE" ] && echo 0 || echo 1)" "V1 left as found: uuid-ossp extensions, relations, types, functions in public = $V1_OBJECTS_AFTER (before the view: $V1_OBJECTS_BEFORE)"

for run in $(seq 1 "$RUNS"); do
  rm -rf "$WORK/export"
  rc=0; t0=$(now)
  "$BIN" verify-integrity --only deliveries --export "$WORK/export" >"$WORK/verify-diff.log" 2>&1 || rc=$?
  t1=$(now); T_OURS_DIFF+=("$(echo "$t1 - $t0" | bc)")
  echo "verify-integrity --only deliveries --export, 20 differences, run $run/$RUNS: ${T_OURS_DIFF[-1]} s, exit $rc" >&2
  if [ "$run" -eq 1 ]; then
    [ "$rc" = 3 ] || tail -30 "$WORK/verify-diff.log" >&2
    check "$([ "$rc" = 3 ] && echo 0 || echo 1)" "verify-integrity --only deliveries exits 3 after the injection (exit $rc, expected 3)"
  fi
done

# ---- exactly the injected keys, with the right kinds, from both tools -----------------------------
set +e
python3 - "$WORK/injected.tsv" "$WORK/export/report.json" "$([ "$RD_VIEW_DIFF_TIMED_OUT" = 1 ] && echo - || echo "$WORK/reladiff-diff.jsonl")" "$WORK/reladiff-diff-index.jsonl" >"$WORK/checks.txt" <<'PY'
import collections, json, re, sys
injected = {}
for line in open(sys.argv[1]):
    kind, key = line.split()
    injected[key] = kind
want = collections.Counter(injected.values())
def compare(name, found):
    got = collections.Counter(found.values())
    extra = sorted(set(found) - set(injected))
    lost = sorted(set(injected) - set(found))
    wrong = sorted(k for k in found if k in injected and found[k] != injected[k])
    ok = not extra and not lost and not wrong
    print(("PASS" if ok else "FAIL") + f" {name} reports exactly the 20 injected keys with their kinds: "
          f"{len(found)} keys ({', '.join(f'{k} {got[k]}' for k in ('changed', 'missing_in_v2', 'unexpected_in_v2'))}; "
          f"expected {', '.join(f'{k} {want[k]}' for k in ('changed', 'missing_in_v2', 'unexpected_in_v2'))})"
          + (f"; not injected: {extra[:5]}" if extra else "") + (f"; missed: {lost[:5]}" if lost else "")
          + (f"; wrong kind: {wrong[:5]}" if wrong else ""))
    return ok
ok = True
# ours: report.json
try:
    report = json.load(open(sys.argv[2]))
    tables = [t for t in report.get("tables", []) if t.get("load") == "deliveries"]
    found = {}
    counts_ok = len(tables) == 1
    for t in tables:
        for d in t.get("differences", []):
            found[d["key"]] = d["kind"]
        counts_ok = counts_ok and (t.get("changed"), t.get("missing_in_v2"), t.get("unexpected_in_v2")) == (want["changed"], want["missing_in_v2"], want["unexpected_in_v2"])
    ok &= compare("verify-integrity (report.json)", found)
    line = (f"verify-integrity report.json: outcome {report.get('outcome')!r} (expected 'fail'); deliveries counts "
            + (f"changed {tables[0].get('changed')}, missing_in_v2 {tables[0].get('missing_in_v2')}, unexpected_in_v2 {tables[0].get('unexpected_in_v2')}" if tables else "absent"))
    counts_ok = counts_ok and report.get("outcome") == "fail"
    print(("PASS " if counts_ok else "FAIL ") + line)
    ok &= counts_ok
except Exception as e:
    print(f"FAIL verify-integrity report.json unreadable: {e!r}")
    ok = False
# reladiff: JSONL lines ["-"|"+", [key, ...]]; "-" = only in V1's view, "+" = only in V2; an update is a -/+ pair
for variant, path in (("view", sys.argv[3]), ("view+index", sys.argv[4])):
    if path == "-":
        print(f"NOTE reladiff ({variant}) with 20 differences was stopped at its time limit; its output is not checked")
        continue
    signs = collections.defaultdict(set)
    bad = 0
    for line in open(path):
        m = re.match(r'\s*\["([+-])", \["([0-9a-f-]{36})"', line)
        if not m:
            if line.strip(): bad += 1
            continue
        signs[m.group(2)].add(m.group(1))
    kind = {frozenset("-+"): "changed", frozenset("-"): "missing_in_v2", frozenset("+"): "unexpected_in_v2"}
    found = {k: kind[frozenset(s)] for k, s in signs.items()}
    ok &= compare(f"reladiff ({variant})", found)
    if bad:
        print(f"FAIL reladiff ({variant}) output: {bad} lines not understood")
        ok = False
sys.exit(0 if ok else 1)
PY
rc=$?
set -e
cat "$WORK/checks.txt" >&2
while IFS= read -r line; do CHECKS+=("$line"); done <"$WORK/checks.txt"
[ "$rc" = 0 ] || FAILED=1

# ---- results ------------------------------------------------------------------------------------
M_MIGRATE=$(median "${T_MIGRATE[@]}"); M_ALL=$(median "${T_ALL[@]}")
M_OURS_SAME=$(median "${T_OURS_SAME[@]}"); M_OURS_DIFF=$(median "${T_OURS_DIFF[@]}")
M_RD_SAME=$(median "${T_RD_SAME[@]}"); M_RD_DIFF=$(median "${T_RD_DIFF[@]}")
M_RDX_SAME=$(median "${T_RDX_SAME[@]}"); M_RDX_DIFF=$(median "${T_RDX_DIFF[@]}")
ratio() { printf %.2f "$(echo "$1 / $2" | bc -l)"; }
rate() { echo "$1 / $2" | bc; }
sec() { printf %.2f "$1"; }
R_ALL=$(ratio "$M_ALL" "$M_MIGRATE")
target() { if [ "$(echo "$1" | bc -l)" = 1 ]; then pass "$2"; else fail "$2"; fi; }
speedup() {  # reladiff seconds, ours seconds, description
  local r; r=$(ratio "$1" "$2")
  target "$r >= 2" "ours at least 2× faster than reladiff $3 (reladiff / ours = $r)"
}
speedup "$M_RD_SAME" "$M_OURS_SAME" "(view, as the requirement states it) on identical deliveries"
speedup "$M_RD_DIFF" "$M_OURS_DIFF" "(view, as the requirement states it) with 20 differences$([ "$RD_VIEW_DIFF_TIMED_OUT" = 1 ] && echo ", reladiff stopped at the $VIEW_DIFF_TIMEOUT s limit: a lower bound")"
speedup "$M_RDX_SAME" "$M_OURS_SAME" "(view + expression index on V1: its best case) on identical deliveries"
speedup "$M_RDX_DIFF" "$M_OURS_DIFF" "(view + expression index on V1: its best case) with 20 differences"
target "$M_ALL <= $M_MIGRATE" "verify-integrity (all tables) no slower than migrate (verify / migrate = $R_ALL)"

PG_VERSION=$(q2 "SHOW server_version" | awk '{print $1}')
CPU=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
MEM_GB=$(awk '/MemTotal/ {printf "%.0f", $2 / 1048576}' /proc/meminfo)
row() {  # label, seconds, ours' seconds on the same data
  echo "| $1 | $(sec "$2") | $(rate "$V2_DELIVERIES" "$2") | $(ratio "$2" "$3") |"
}
cat <<EOF

Machine: $(nproc) cores ($CPU), ${MEM_GB} GB RAM, PostgreSQL $PG_VERSION (V1 and V2: local clusters on loopback), reladiff $RELADIFF_VERSION (--threads $RELADIFF_THREADS).
Data: \`generate-v1 --scale $SCALE --seed 42\`: $ROWS V1 rows; $V1_DELIVERIES V1 deliveries → $V2_DELIVERIES in V2 (rows/s below: the $V2_DELIVERIES deliveries compared).

| deliveries, scale $SCALE, median of $RUNS ($DIFF_RUNS for reladiff with differences) | seconds | rows/s | time / ours |
|---|---|---|---|
$(row "ours: \`verify-integrity --only deliveries\`, identical" "$M_OURS_SAME" "$M_OURS_SAME")
$(row "reladiff, view, identical" "$M_RD_SAME" "$M_OURS_SAME")
$(row "reladiff, view + expression index on V1, identical" "$M_RDX_SAME" "$M_OURS_SAME")
$(row "ours: \`verify-integrity --only deliveries --export DIR\`, 20 differences" "$M_OURS_DIFF" "$M_OURS_DIFF")
$(row "reladiff, view, 20 differences$([ "$RD_VIEW_DIFF_TIMED_OUT" = 1 ] && echo " (stopped at the $VIEW_DIFF_TIMEOUT s limit: at least this)")" "$M_RD_DIFF" "$M_OURS_DIFF")
$(row "reladiff, view + expression index on V1, 20 differences" "$M_RDX_DIFF" "$M_OURS_DIFF")

| all tables, scale $SCALE, $ROWS V1 rows, median of $RUNS | seconds | rows/s | time / migrate |
|---|---|---|---|
| \`migrate\` (into an empty V2) | $(sec "$M_MIGRATE") | $(rate "$ROWS" "$M_MIGRATE") | 1.00 |
| \`verify-integrity\` (every check) | $(sec "$M_ALL") | $(rate "$ROWS" "$M_ALL") | $R_ALL |

The expression index took $(sec "$T_INDEX") s to build on V1 (not counted above). Runs (s): migrate ${T_MIGRATE[*]}; verify all ${T_ALL[*]}; ours identical ${T_OURS_SAME[*]}; reladiff view identical ${T_RD_SAME[*]}; reladiff view+index identical ${T_RDX_SAME[*]}; ours 20 diffs ${T_OURS_DIFF[*]}; reladiff view 20 diffs ${T_RD_DIFF[*]}; reladiff view+index 20 diffs ${T_RDX_DIFF[*]}.

Checks:
$(printf -- '- %s\n' "${CHECKS[@]}")

reladiff: \`COLUMNS=1000000 $RELADIFF_SHOWN\`, with the view from \`scripts/sql/v1_deliveries_as_v2.sql\`.
Reproduce: \`DIFF_RUNS=$DIFF_RUNS VIEW_DIFF_TIMEOUT=$VIEW_DIFF_TIMEOUT scripts/bench-verify.sh $SCALE $RUNS\`
EOF
exit "$FAILED"
