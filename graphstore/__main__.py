"""``python -m graphstore``: the ``graphstore`` command (see :mod:`graphstore.cli`)."""

from .cli import main

if __name__ == "__main__":
    main(prog_name="graphstore")
