#!/bin/sh
# Sets up .venv with the test and lint extras (first time only), then checks the house rules: ruff's formatting and
# lint rules over the whole tree, and mypy over graphstore/ and query/ (settings in pyproject.toml). Fails on any finding.
set -eu
cd "$(dirname "$0")/.."
. scripts/_venv.sh
ensure_venv '.[test,lint]'
"$PY" -m ruff format --check .
"$PY" -m ruff check .
"$PY" -m mypy
