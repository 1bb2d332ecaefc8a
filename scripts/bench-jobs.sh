#!/usr/bin/env bash
# Does migrate gain from more parallel loads? `migrate --jobs N` for each N, interleaved, on the
# same generated V1 (seed 42, settled) into a fresh V2 database each time, default durability.
# Answers the README's "Beyond one machine's window" question for this machine: whether a third
# (or a split) load helps when both cores are already busy.
#
# Usage: scripts/bench-jobs.sh [SCALE] [RUNS] [JOBS]   (defaults: 1, 3, "1 2 3")
# Environment: CTM_BIN=path  use this binary instead of building the release one
# Prints a Markdown table (medians); copy it into BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE="${1:-1}"
RUNS="${2:-3}"
JOBS="${3:-1 2 3}"

. scripts/bench-lib.sh
export COCOATRACK_SANDBOX_DIR="$(mktemp -d /tmp/ctm-jobs-XXXXXX)"
rmdir "$COCOATRACK_SANDBOX_DIR"
trap '"$BIN" sandbox down >/dev/null 2>&1 || true' EXIT
"$BIN" sandbox up >&2
eval "$("$BIN" sandbox env --superuser)"
"$BIN" generate-v1 --scale "$SCALE" --seed 42 >&2
settle_v1
declare -A T
for run in $(seq 1 "$RUNS"); do
  for n in $JOBS; do
    fresh_v2_target; admin "CHECKPOINT"
    t0=$(now)
    "$BIN" migrate --allow-writable-v1 --jobs "$n" --v2 "$(owner_db bench_ours)" >/dev/null 2>/tmp/ctm-jobs-migrate.log \
      || { tail -20 /tmp/ctm-jobs-migrate.log >&2; exit 1; }
    t1=$(now); T[$n]="${T[$n]:-} $(echo "$t1 - $t0" | bc)"
    echo "  run $run --jobs $n: $(echo "$t1 - $t0" | bc) s [$(uptime | sed 's/.*load/load/')]" >&2
  done
done
LOAD_AFTER="$(uptime)"
first=""
echo "| scale $SCALE, median of $RUNS | seconds | ratio to the first |"
echo "|---|---|---|"
for n in $JOBS; do
  # shellcheck disable=SC2086
  m=$(median ${T[$n]})
  [ -n "$first" ] || first=$m
  printf '| `migrate --jobs %s` | %.1f | %.2f |\n' "$n" "$m" "$(echo "$m / $first" | bc -l)"
done
echo
for n in $JOBS; do echo "runs --jobs $n (s):${T[$n]}"; done
echo "Load before: ${LOAD_BEFORE#*load average: }; after: ${LOAD_AFTER#*load average: }."
