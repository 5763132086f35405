#!/bin/sh
# Runs the benchmark suite: graphstore from .venv, the peers (joblib.Memory, pymandala) from benchmarks/.venv-peers.
# Both virtualenvs are created on the first run. Arguments go to benchmarks/run.py (--quick, --reps N, --help).
set -eu
cd "$(dirname "$0")/.."
. scripts/_venv.sh
ensure_venv '.[postgres]'
PEERS=benchmarks/.venv-peers
if [ ! -f "$PEERS/.installed" ] || [ benchmarks/peers-requirements.txt -nt "$PEERS/.installed" ]; then
    [ -x "$PEERS/bin/python" ] || python3 -m venv "$PEERS"
    "$PEERS/bin/python" -m pip install --quiet --disable-pip-version-check -r benchmarks/peers-requirements.txt
    touch "$PEERS/.installed"
fi
exec "$PY" benchmarks/run.py --python "$PY" --peers-python "$PEERS/bin/python" "$@"
