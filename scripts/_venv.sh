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

# The frame pictures (cf.draw) are rendered by graphviz's `dot`; the tests draw SVG, PNG, PDF and JPG with it. The
# notebook display of frames is checked in a headless chromium.
ensure_system_tools() {
    missing=""
    command -v dot >/dev/null 2>&1 || missing="$missing graphviz"
    command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
    [ -z "$missing" ] && return 0
    SUDO=""
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
            echo "missing:$missing (install them: apt-get install$missing)" >&2; return 1
        fi
    fi
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq $missing >/dev/null
}
