#!/bin/sh
# Sets up .venv (first time only), then runs the seed pipeline twice on one SQLite file:
# the first run computes every op, the second (a new process) retraces with nothing computed.
set -eu
cd "$(dirname "$0")/.."
. scripts/_venv.sh
ensure_venv '.[examples]'
db="${1:-demo_store.db}"
rm -f "$db" "$db-wal" "$db-shm"
echo "=== first run: computes ==="
"$PY" examples/seed_pipeline.py --db "$db"
echo "=== second run, new process: retraces, computes nothing ==="
"$PY" examples/seed_pipeline.py --db "$db"
