# Shared by the benchmark scripts (sourced, from the repository root).
# Sets BIN: $CTM_BIN when given (absolute), else the release binary, built now.
if [ -z "${CTM_BIN:-}" ]; then
  swift build -c release --product cocoatrack-migrate >&2
  BIN="$(swift build -c release --show-bin-path)/cocoatrack-migrate"
else
  BIN="$(cd "$(dirname "$CTM_BIN")" && pwd)/$(basename "$CTM_BIN")"
fi
LOAD_BEFORE="$(uptime)"
now() { date +%s.%N; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
