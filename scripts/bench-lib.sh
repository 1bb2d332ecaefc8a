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
# After generate-v1 (not timed): V1 as a long-lived production database is, its rows' hint bits
# set and its pages all-visible, and no autovacuum of the fresh tables left to run during the
# timed part. Without it, the first reader of the generated rows (migrate, verify or pg_dump,
# whichever runs first) pays for setting the hint bits and competes with autovacuum: one
# verify at scale 0.5 took 21.4 s, and 14.0 s and 15.7 s right after on the same data.
settle_v1() { psql "${V1_SUPERUSER_URL:-$V1_DATABASE_URL}" -qAtX -v ON_ERROR_STOP=1 -c "VACUUM (FREEZE, ANALYZE)" >&2; }

# The V2 cluster's databases (after `eval "$(cocoatrack-migrate sandbox env --superuser)"`).
su_db() { echo "${V2_SUPERUSER_URL%/*}/$1?sslmode=disable"; }
owner_db() { echo "${V2_DATABASE_URL%/*}/$1?sslmode=disable"; }
admin() { psql "$(su_db postgres)" -qAtc "$1" >/dev/null; }
# An empty V2 target as the sandbox's own (from its template: Supabase's roles and schemas).
fresh_v2_target() {
  admin "DROP DATABASE IF EXISTS bench_ours"
  admin "CREATE DATABASE bench_ours TEMPLATE postgres"
  admin "ALTER DATABASE bench_ours SET search_path = \"\$user\", public, extensions"
  admin "GRANT CREATE ON DATABASE bench_ours TO postgres"
}
