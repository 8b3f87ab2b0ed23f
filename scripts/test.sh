#!/usr/bin/env bash
# The whole test suite: unit tests (Surefire) and integration tests against a real
# PostgreSQL 15 (Failsafe, *IT), after installing whatever a fresh machine lacks.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec mvn -B verify "$@"
