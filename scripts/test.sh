#!/bin/sh
# Sets up .venv with the test extras (first time only), then runs the whole test suite.
set -eu
cd "$(dirname "$0")/.."
. scripts/_venv.sh
ensure_venv '.[test]'
exec "$PY" -m pytest "$@"
