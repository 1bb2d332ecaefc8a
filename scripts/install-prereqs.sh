#!/usr/bin/env bash
# Installs what building, running and testing cocoatrack-migrate need, and only what is missing:
# nothing is upgraded, nothing installed that is already there (Debian or Ubuntu, as root).
# `.ci/run` calls this script, so the README's install step and CI cannot drift apart.
#
# Usage: scripts/install-prereqs.sh [--tool-only] [--dry-run]
#   --tool-only  only what the tool needs (PostgreSQL, libpq and libxcrypt headers, pkg-config),
#                not what only the tests use (Chromium, PgBouncer, openssl, promtool, curl,
#                moto and awscli from PyPI)
#   --dry-run    print what would be installed, install nothing
# Swift itself is not installed here: use swift.org's toolchain (6.2 or newer).
set -euo pipefail

tool_only=false
dry_run=false
for arg in "$@"; do
  case "$arg" in
    --tool-only) tool_only=true ;;
    --dry-run) dry_run=true ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option: $arg (see --help)" >&2; exit 2 ;;
  esac
done

need=()
add() { local p; for p in "$@"; do [[ " ${need[*]-} " == *" $p "* ]] || need+=("$p"); done; }

# The tool: PostgreSQL server binaries (the sandbox) with contrib (pgcrypto, uuid-ossp,
# pg_stat_statements), client tools (pg_dump, pg_restore, psql), libpq and libxcrypt headers.
have_server=false
if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir 2>/dev/null)/initdb" ]; then have_server=true; fi
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then have_server=true; fi
$have_server || add postgresql postgresql-contrib
command -v psql >/dev/null 2>&1 || add postgresql-client
command -v pg_dump >/dev/null 2>&1 || add postgresql-client
[ -f /usr/include/postgresql/libpq-fe.h ] || add libpq-dev
[ -f /usr/include/crypt.h ] || add libcrypt-dev
command -v pkg-config >/dev/null 2>&1 || add pkg-config
# setpriv: the sandbox runs its servers as an unprivileged user when started as root.
command -v setpriv >/dev/null 2>&1 || add util-linux

pip_need=()
if ! $tool_only; then
  # curl: the tests' HTTP probes of the stand-ins and the status page (the tool itself makes its
  # HTTP calls in process, with AsyncHTTPClient).
  command -v curl >/dev/null 2>&1 || add curl
  # promtool (Debian's prometheus package): the status page's /metrics checked by Prometheus's linter.
  command -v promtool >/dev/null 2>&1 || add prometheus
  # openssl: the TLS tests make a throwaway CA and server certificate.
  command -v openssl >/dev/null 2>&1 || add openssl
  # PgBouncer: the pooler tests start it (session and transaction mode) in front of the sandbox.
  command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || add pgbouncer
  # Headless Chromium opens the HTML reports in the tests.
  command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || add chromium
  # The S3 stand-in and client for the snapshot upload test (PyPI).
  command -v moto_server >/dev/null 2>&1 || pip_need+=("moto[server]")
  command -v aws >/dev/null 2>&1 || pip_need+=(awscli)
  if [ ${#pip_need[@]} -gt 0 ] && ! command -v pip3 >/dev/null 2>&1 && ! python3 -m pip --version >/dev/null 2>&1; then
    add python3-pip
  fi
fi

if [ ${#need[@]} -eq 0 ] && [ ${#pip_need[@]} -eq 0 ]; then
  echo "prerequisites: everything is installed"
  exit 0
fi
if $dry_run; then
  [ ${#need[@]} -gt 0 ] && echo "would install (apt, --no-install-recommends): ${need[*]}"
  [ ${#pip_need[@]} -gt 0 ] && echo "would install (PyPI): ${pip_need[*]}"
  exit 0
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "installing (apt, --no-install-recommends): ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${need[@]}"
fi
if [ ${#pip_need[@]} -gt 0 ]; then
  echo "installing from PyPI: ${pip_need[*]}"
  python3 -m pip install -q "${pip_need[@]}"
  hash -r
fi
