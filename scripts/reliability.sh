#!/usr/bin/env bash
# The fault and hostile-input suite (issue #9) at a chosen scale, and its table.
#
#   scripts/reliability.sh [--scale S] [--kills N] [--seed N] [--update]
#
#   --scale S   generator scale of the data the faults hit (default 0.01, as in CI; 1 = ≈3.7 M rows)
#   --kills N   SIGKILLs per crash drill: migrate, sync-v2-to-v1, cutover run (default 20)
#   --seed N    the random kill moments (default: random; printed in the table)
#   --update    also write the table into RELIABILITY.md (between the markers for this scale)
#   --render F  do not run anything: print (and with --update write) the table of results file F
#
# Runs the `Reliability…` suites (and the status page's) of `swift test` (real PostgreSQL servers the suite starts
# itself), each of which appends what it injected and what it measured to a results file, and
# prints that file as a Markdown table. Exit status: the suite's.
set -euo pipefail
cd "$(dirname "$0")/.."

scale=0.01
kills=20
seed=""
update=false
render=""
while [ $# -gt 0 ]; do
  case "$1" in
    --scale) scale="$2"; shift 2 ;;
    --kills) kills="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --update) update=true; shift ;;
    --render) render="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

status=0
if [ -n "$render" ]; then
  results="$render"
  seconds="?"
  status="?"
  scale="$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["scale"])' "$results")"
else
  results="$(mktemp -t ctm-reliability-XXXXXX.jsonl)"
  log="$(mktemp -t ctm-reliability-XXXXXX.log)"
  export CTM_RELIABILITY_RESULTS="$results" CTM_RELIABILITY_SCALE="$scale" CTM_RELIABILITY_KILLS="$kills"
  [ -n "$seed" ] && export CTM_RELIABILITY_SEED="$seed"
  echo "building…" >&2
  swift build --build-tests >&2
  echo "running the reliability suites at scale $scale with $kills kills per crash drill (log: $log, results: $results)…" >&2
  start=$(date +%s)
  swift test --skip-build --filter "Reliability|StatusPage|RealServer" >"$log" 2>&1 || status=$?
  seconds=$(( $(date +%s) - start ))
  grep -E "^(✘|✔) (Suite|Test run)|recorded an issue" "$log" >&2 || true
fi

command="scripts/reliability.sh --scale $scale --kills $kills${seed:+ --seed $seed}"
table="$(python3 - "$results" "$scale" "$seconds" "$status" "$command" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" <<'EOF'
import json, sys
path, scale, seconds, status, command, commit = sys.argv[1:]
rows = [json.loads(l) for l in open(path) if l.strip()]
order = ["crash", "connection", "concurrency", "hostile data", "hostile configuration", "security"]
rows.sort(key=lambda r: (order.index(r["category"]) if r["category"] in order else 99))
faults = [r for r in rows if r["category"] in ("crash", "connection", "concurrency")]
inputs = [r for r in rows if r["category"] not in ("crash", "connection", "concurrency")]
lost = sum(r.get("rowsLost") or 0 for r in rows)
out = []
out.append(f"Run of `{command}` at commit `{commit}`: scale {scale}, {seconds} s, suite exit status {status}.")
out.append("")
out.append(f"- faults injected: **{sum(r['injected'] for r in faults)}**, survived: **{sum(r['survived'] for r in faults)}**, rows lost or duplicated: **{lost}**")
out.append(f"- hostile inputs tried: **{sum(r['injected'] for r in inputs)}**, handled as required: **{sum(r['survived'] for r in inputs)}**")
out.append("")
out.append("| category | fault or input | injected / tried | survived / handled | rows lost | checked by |")
out.append("|---|---|---:|---:|---:|---|")
for r in rows:
    lost_cell = "—" if r.get("rowsLost") is None else str(r["rowsLost"])
    cell = lambda s: s.replace("|", "\\|").replace("\n", " ")
    out.append(f"| {r['category']} | {cell(r['fault'])} | {r['injected']} | {r['survived']} | {lost_cell} | {cell(r['check'])} |")
print("\n".join(out))
EOF
)"
echo "$table"

if $update; then
  python3 - "RELIABILITY.md" "$table" "$scale" <<'EOF'
import sys
path, table, scale = sys.argv[1:]
text = open(path).read()
begin, end = f"<!-- results scale={scale} begin -->", f"<!-- results scale={scale} end -->"
if begin not in text:
    text += f"\n### Scale {scale}\n\n{begin}\n{end}\n"
a, b = text.index(begin) + len(begin), text.index(end)
open(path, "w").write(text[:a] + "\n" + table + "\n" + text[b:])
EOF
  echo "RELIABILITY.md updated" >&2
fi
[ "$status" = "?" ] && exit 0
exit $status
