"""Progress bars of long work: shown where someone looks (or when asked), never in a pipe or a file."""

from __future__ import annotations

import re
import time

import graphstore.query.rows
import pytest

import graphstore.writer
from graphstore import Storage, copy_store, op, progress


@op
def inc(x):
    return x + 1


@pytest.fixture
def shown(monkeypatch):
    """Bars shown at once, and for small work."""
    monkeypatch.setattr(progress, "DELAY_S", 0)
    monkeypatch.setattr(progress, "REFRESH_S", 0)
    progress.set_enabled(True)
    yield
    progress.set_enabled(None)


def test_a_large_table_shows_its_reading(shown, storage, capsys, monkeypatch):
    with storage:
        for i in range(40):
            inc(i)
    monkeypatch.setattr(graphstore.query.rows, "PROGRESS_ROWS", 30)
    monkeypatch.setattr(graphstore.query.rows, "CHUNK_ROWS", 7)
    capsys.readouterr()
    assert len(storage.cf(inc).df()) == 40
    err = capsys.readouterr().err
    assert "reading histories" in err and len(set(re.findall(r"([\d.]+)/40", err))) >= 3  # counting up to 40


def test_a_large_backlog_shows_its_writing(shown, db_path, capsys, monkeypatch):
    monkeypatch.setattr(graphstore.writer, "PROGRESS_CALLS", 50)
    monkeypatch.setattr(graphstore.writer, "MAX_PENDING_CALLS", 10**6)  # nothing written before the block's end
    monkeypatch.setattr(graphstore.writer, "MAX_DELAY_S", 60)
    storage = Storage(db_path)
    with storage:
        for i in range(120):
            inc(i)
    err = capsys.readouterr().err
    assert "writing calls" in err and re.search(r"/120\b", err)
    assert storage.cache_info()["calls"] == 120
    storage.close()


def test_a_copy_shows_its_records(shown, tmp_path, capsys):
    source = Storage(str(tmp_path / "a.db"))
    with source:
        for i in range(30):
            inc(i)
    source.close()
    copy_store(str(tmp_path / "a.db"), str(tmp_path / "b.db"))
    assert "copying to" in capsys.readouterr().err


def test_no_bar_where_nobody_looks(db_path, capsys, monkeypatch):
    monkeypatch.setattr(progress, "DELAY_S", 0)
    monkeypatch.setattr(graphstore.query.rows, "PROGRESS_ROWS", 1)
    monkeypatch.delenv("GRAPHSTORE_PROGRESS", raising=False)
    storage = Storage(db_path)
    with storage:
        inc(1)
    storage.cf(inc).df()
    assert capsys.readouterr().err == ""  # (the captured output is no terminal)
    monkeypatch.setenv("GRAPHSTORE_PROGRESS", "1")
    assert progress.enabled()
    monkeypatch.setenv("GRAPHSTORE_PROGRESS", "0")
    progress.set_enabled(None)
    assert not progress.enabled()
    storage.close()


def test_work_done_in_one_step_shows_how_long_it_has_taken(shown, db_path, capsys, monkeypatch):
    storage = Storage(db_path)
    with storage:
        for i in range(30):
            inc(i)
    capsys.readouterr()
    monkeypatch.setattr(storage.backend, "vacuum", lambda: time.sleep(0.3))  # (a vacuum that takes a while)
    storage.vacuum()
    assert storage.check().ok
    storage.cleanup_refs()
    err = capsys.readouterr().err
    assert re.search(r"vacuuming: 00:00", err) and err.count("vacuuming") >= 3  # refreshed while it ran
    assert "checking the store" in err and "cleaning up refs and values" in err
    storage.close()
