#!/bin/sh
# Sets up .venv with the test and lint extras, graphviz and chromium (first time only), then runs the whole test suite.
set -eu
cd "$(dirname "$0")/.."
. scripts/_venv.sh
ensure_venv '.[test,lint]'
ensure_system_tools
exec "$PY" -m pytest "$@"
