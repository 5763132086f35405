# Shared by the scripts: create .venv with a Python >= 3.10 and install the project with the given extras.
ensure_venv() {
    if [ ! -x .venv/bin/python ]; then
        python3 -c 'import sys; assert sys.version_info >= (3, 10), "graphstore needs Python 3.10 or newer"'
        python3 -m venv .venv
    fi
    PY=.venv/bin/python
    stamp=".venv/.installed-$(echo "$1" | tr -c 'a-z' '_')"
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        "$PY" -m pip install --quiet --disable-pip-version-check -e "$1"
        touch "$stamp"
    fi
}
