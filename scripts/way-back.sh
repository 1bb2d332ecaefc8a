#!/usr/bin/env bash
# Benchmark: the plan's way back, at a given scale, step by step, on local throwaway clusters.
#
#   Scenario 1 (rollback before the DNS switch): after read-only enable, migrate and verify,
#             `rollback --clear-v2 --yes` (its V2 snapshot included), then `read-only disable`.
#   Scenario 2 (rollback after the switch): after read-only enable, migrate, verify and
#             `capture arm`, a scripted V2 workload (10,000 updates of deliveries.notes and
#             updated_at, 1,000 new deliveries), then `assess-v2-changes`, `sync-v2-to-v1 --yes`
#             (its V1 snapshot included), `rollback --clear-v2 --yes` (its V2 snapshot included),
#             `read-only disable`; and checks that V1 read back equals the reverse mapping of V2
#             (the sync exits 0: no conflict, every change written).
#
# Usage: scripts/way-back.sh [SCALE]     (default 1 ≈ 3.7 M V1 rows)
# Prints each step's time and a Markdown table; copy it into BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE="${1:-1}"

swift build -c release --product cocoatrack-migrate >&2
BIN="$(swift build -c release --show-bin-path)/cocoatrack-migrate"
export COCOATRACK_SANDBOX_DIR="$(mktemp -d /tmp/ctm-wayback-XXXXXX)"
rmdir "$COCOATRACK_SANDBOX_DIR"
SNAPS="$(mktemp -d /tmp/ctm-wayback-snaps-XXXXXX)"
trap '"$BIN" sandbox down >/dev/null 2>&1 || true; rm -rf "$SNAPS"' EXIT
"$BIN" sandbox up --fast >&2
eval "$("$BIN" sandbox env)"
"$BIN" generate-v1 --scale "$SCALE" --seed 42 >&2
ROWS=$(psql "$V1_DATABASE_URL" -Atc "SELECT (SELECT count(*) FROM regions) + (SELECT count(*) FROM cooperatives) + (SELECT count(*) FROM users) + (SELECT count(*) FROM warehouses) + (SELECT count(*) FROM invoices) + (SELECT count(*) FROM chef_planteurs) + (SELECT count(*) FROM planteurs) + (SELECT count(*) FROM deliveries) + (SELECT count(*) FROM delivery_photos) + (SELECT count(*) FROM audit_log)")

now() { date +%s.%N; }
f() { printf '%.1f' "$1"; }
declare -A T
step() {  # step NAME command…: runs it, records its seconds, stops the benchmark on failure
  local name="$1"; shift
  local t0 t1 rc=0
  t0=$(now)
  "$@" >"$SNAPS/$name.out" 2>"$SNAPS/$name.err" || rc=$?
  t1=$(now)
  T[$name]=$(echo "$t1 - $t0" | bc)
  printf '  %-22s %7.1f s (exit %d)\n' "$name" "${T[$name]}" "$rc" >&2
  if [ "$rc" -ne 0 ]; then tail -20 "$SNAPS/$name.err" >&2; exit 1; fi
}
prepare() {
  step "read-only enable$1" "$BIN" read-only enable --app-role app_user --yes --session-timeout 1
  step "migrate$1" "$BIN" migrate
  step "verify-integrity$1" "$BIN" verify-integrity
}

echo "Scenario 1 at scale $SCALE ($ROWS V1 rows)" >&2
prepare " (1)"
step "s1: rollback --clear-v2" "$BIN" rollback --clear-v2 --yes --snapshot-dir "$SNAPS/s1"
step "s1: read-only disable" "$BIN" read-only disable --app-role app_user --yes

echo "Scenario 2" >&2
prepare " (2)"
step "capture arm" "$BIN" capture arm
psql "$V2_DATABASE_URL" -qX -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
UPDATE public.deliveries SET notes = 'after cutover ' || id, updated_at = updated_at + interval '1 hour'
WHERE id IN (SELECT id FROM public.deliveries ORDER BY id LIMIT 10000);
INSERT INTO public.deliveries (id, planteur_id, warehouse_id, delivered_on, weight_kg, bags, quality_grade, price_per_kg, total_amount, notes, created_at, updated_at)
SELECT gen_random_uuid(), p.id, w.id, DATE '2026-12-05', 100.5, 2, 'grade_a', 1500, 150750, 'new after cutover ' || p.rn, now(), now()
FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM public.planteurs ORDER BY id LIMIT 1000) p,
     (SELECT id FROM public.warehouses ORDER BY id LIMIT 1) w;
SQL
step "s2: assess-v2-changes" "$BIN" assess-v2-changes
step "s2: sync-v2-to-v1" "$BIN" sync-v2-to-v1 --yes --snapshot-dir "$SNAPS/s2"
# V1 read back: the 10,000 notes and the 1,000 new deliveries are there.
UPDATED=$(psql "$V1_DATABASE_URL" -Atc "SELECT count(*) FROM public.deliveries WHERE notes LIKE 'after cutover %'")
NEW=$(psql "$V1_DATABASE_URL" -Atc "SELECT count(*) FROM public.deliveries WHERE notes LIKE 'new after cutover %'")
# Nothing is left that V1 lacks: data-loss-report exits 0.
step "s2: data-loss-report" "$BIN" data-loss-report
step "s2: rollback --clear-v2" "$BIN" rollback --clear-v2 --yes --snapshot-dir "$SNAPS/s2v2"
step "s2: read-only disable" "$BIN" read-only disable --app-role app_user --yes

S1=$(echo "${T["s1: rollback --clear-v2"]} + ${T["s1: read-only disable"]}" | bc)
S2=$(echo "${T["s2: assess-v2-changes"]} + ${T["s2: sync-v2-to-v1"]} + ${T["s2: rollback --clear-v2"]} + ${T["s2: read-only disable"]}" | bc)
CONFLICTS=$(grep -c "conflict " "$SNAPS/s2: sync-v2-to-v1.err" || true)
cat <<EOF

Way back at scale $SCALE ($ROWS V1 rows), $(nproc) cores, $(date -u +%Y-%m-%d), \`scripts/way-back.sh $SCALE\`:

| step | seconds |
|---|---:|
| Scenario 1: \`rollback --clear-v2 --yes\` (V2 snapshot included) | $(f "${T["s1: rollback --clear-v2"]}") |
| Scenario 1: \`read-only disable\` | $(f "${T["s1: read-only disable"]}") |
| **Scenario 1 total** (goal < 60 s) | **$(f "$S1")** |
| Scenario 2: \`assess-v2-changes\` | $(f "${T["s2: assess-v2-changes"]}") |
| Scenario 2: \`sync-v2-to-v1 --yes\` (V1 snapshot included) | $(f "${T["s2: sync-v2-to-v1"]}") |
| Scenario 2: \`rollback --clear-v2 --yes\` (V2 snapshot included) | $(f "${T["s2: rollback --clear-v2"]}") |
| Scenario 2: \`read-only disable\` | $(f "${T["s2: read-only disable"]}") |
| **Scenario 2 total** (goal < 120 s) | **$(f "$S2")** |

Sync: $CONFLICTS conflicts; V1 read back: $UPDATED of 10000 updated notes, $NEW of 1000 new deliveries; data-loss-report exit 0.
(For reference: migrate $(f "${T["migrate (2)"]}") s, verify-integrity $(f "${T["verify-integrity (2)"]}") s, capture arm $(f "${T["capture arm"]}") s.)
EOF
