#!/usr/bin/env bash
# Installs what pageserver needs to build, test and demo on a fresh Debian 12 machine:
# a JDK 17, Maven, and PostgreSQL 15 (server, contrib, client tools), plus the PG15 headers and
# xxd, which only people reading the formats and the demo use.
# Idempotent: installs only what is missing. Needs root (or sudo) for apt-get.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

need=()
command -v javac >/dev/null 2>&1 || need+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null 2>&1 || need+=(maven)
[ -x /usr/lib/postgresql/15/bin/postgres ] || need+=(postgresql-15)
[ -x /usr/lib/postgresql/15/bin/pg_waldump ] || need+=(postgresql-15)
command -v psql >/dev/null 2>&1 || need+=(postgresql-client-15)
command -v runuser >/dev/null 2>&1 || need+=(util-linux)
# the mount subcommand (jnr-fuse) needs libfuse 2 and fusermount
[ -e /usr/lib/x86_64-linux-gnu/libfuse.so.2 ] || ls /usr/lib/*/libfuse.so.2 >/dev/null 2>&1 || need+=(libfuse2)
command -v fusermount >/dev/null 2>&1 || need+=(fuse)
optional=()
[ -f /usr/include/postgresql/15/server/access/xlogrecord.h ] || optional+=(postgresql-server-dev-15)
command -v xxd >/dev/null 2>&1 || optional+=(xxd)

if [ "${#need[@]}" -gt 0 ] || [ "${#optional[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
fi
if [ "${#need[@]}" -gt 0 ]; then
  echo "setup: installing ${need[*]}" >&2
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if [ "${#optional[@]}" -gt 0 ]; then
  echo "setup: installing ${optional[*]}" >&2
  $SUDO apt-get install -y -qq --no-install-recommends "${optional[@]}" >/dev/null \
    || echo "setup: could not install ${optional[*]} (not needed by the tests)" >&2
fi

# The Debian package creates the postgres user and may start a cluster on 5432; the tests
# never use it (each makes its own cluster on its own port), so it is left alone.
if ! id postgres >/dev/null 2>&1; then
  $SUDO useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
fi
