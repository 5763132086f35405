"""Damage reaches the user as a graphstore error naming the store file, never as a raw sqlite3, Key, Value or Type
error, and ``check()`` finds it without crashing. Real store files are damaged in place: bytes flipped in the file,
a ref's kind or a call's outputs overwritten, a value's bytes stored as TEXT or INTEGER."""

from __future__ import annotations

import sqlite3

import pytest

from graphstore import GraphstoreError, SchemaVersionError, Storage, op


@op
def make(i):
    return [i, str(i) * 3]


@op
def combine(a, b):
    return (a, b)


N = 300


def _record(path: str):
    s = Storage(path)
    with s:
        for i in range(N):
            combine(make(i), i)
    s.close()


def _sql(path: str, statement: str) -> None:
    conn = sqlite3.connect(path)
    conn.execute(statement)
    conn.commit()
    conn.close()


def _flip_bytes(path: str) -> None:
    """Overwrite a run of bytes in every page past the first ones: b-tree pages of every table and index."""
    data = bytearray(open(path, "rb").read())
    page = int.from_bytes(data[16:18], "big")
    for start in range(3 * page, len(data), page):
        for k in range(start + 8, min(start + 200, len(data))):
            data[k] ^= 0x5A
    open(path, "wb").write(bytes(data))


DAMAGES = {
    "flipped bytes": _flip_bytes,
    "refs.kind": lambda p: _sql(p, "UPDATE refs SET kind = 'bogus'"),
    "calls.outputs": lambda p: _sql(p, "UPDATE calls SET outputs = 'garbage'"),
    "value as TEXT": lambda p: _sql(p, 'UPDATE "values" SET data = CAST(data AS TEXT)'),
    "value as INTEGER": lambda p: _sql(p, 'UPDATE "values" SET data = 12345'),
}

FOUND = {
    "flipped bytes": "sqlite",
    "refs.kind": "has kind 'bogus'",
    "calls.outputs": "has outputs 'garbage'",
    "value as TEXT": "is stored as text",
    "value as INTEGER": "is stored as integer",
}


def _expect_graphstore_error(path: str, action) -> None:
    try:
        action()
    except GraphstoreError as exc:
        assert path in str(exc), f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"raw {type(exc).__name__}: {exc}")


@pytest.mark.parametrize("damage", DAMAGES)
@pytest.mark.parametrize("read_only", [False, True], ids=["read-write", "read-only"])
def test_damage_gives_graphstore_errors_naming_the_file(tmp_path, damage, read_only):
    path = str(tmp_path / "store.db")
    _record(path)
    DAMAGES[damage](path)
    outcome = {}

    def open_store():
        outcome["s"] = Storage(path, read_only=read_only)

    _expect_graphstore_error(path, open_store)
    s = outcome.get("s")
    if s is None:
        return  # refused at open, with a clear error
    try:
        refs = []

        def retrace():
            with s.allow_new_calls(False):
                with s:
                    for i in range(N):
                        refs.append(combine(make(i), i))

        _expect_graphstore_error(path, retrace)
        if refs:
            _expect_graphstore_error(path, lambda: [s.unwrap(r) for r in refs])
        _expect_graphstore_error(path, lambda: s.cf(combine).expand_back(recursive=True).df())
        report = s.check()
        assert not report.ok, damage
        assert any(FOUND[damage] in p for p in report.problems), report.problems
    finally:
        try:
            s.close()
        except GraphstoreError:
            pass


@pytest.mark.parametrize("scheme", ["999", "garbage"])
@pytest.mark.parametrize("read_only", [False, True], ids=["read-write", "read-only"])
def test_every_open_checks_the_hashing_scheme(tmp_path, scheme, read_only):
    path = str(tmp_path / "store.db")
    _record(path)
    _sql(path, f"UPDATE meta SET value = '{scheme}' WHERE key = 'hash_scheme'")
    with pytest.raises(SchemaVersionError) as ei:
        Storage(path, read_only=read_only)
    assert path in str(ei.value) and scheme in str(ei.value)
