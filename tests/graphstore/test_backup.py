"""Backups and copies: ``storage.backup(path)`` copies a store complete and consistent at any time, even while
another process records into it; a plain copy of a store file taken while the store is open is recognised."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

import reliability_worker as rw
from graphstore import NewCallsNotAllowedError, Storage, StoreError, op
from store_tools import value_files


@op
def inc(x):
    return x + 1


@op
def blob(i):
    return bytes([i]) * 5000


def test_backup_while_another_process_records(tmp_path):
    path, progress = str(tmp_path / "live.db"), str(tmp_path / "progress")
    proc = subprocess.Popen(
        [sys.executable, rw.__file__, "durable", path, "trivial", progress],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        time.sleep(0.8)
        reader = Storage(path, read_only=True)
        copies = [reader.backup(str(tmp_path / f"copy{k}.db")) for k in range(3)]  # while calls keep coming
        reader.close()
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    counts = []
    for copy in copies:
        backup = Storage(copy, read_only=True)
        try:
            report = backup.check()
            assert report.ok, report.problems
            n = backup.cache_info()["calls"]
            with backup.allow_new_calls(False), backup:  # the copy holds a whole prefix of the chain: all retrace
                prev = None
                for i in range(n):
                    prev = rw.trivial_step(i, prev)
                with pytest.raises(NewCallsNotAllowedError):
                    rw.trivial_step(n, prev)
            counts.append(n)
        finally:
            backup.close()
    assert counts[0] > 0 and counts == sorted(counts)


def test_a_copy_of_an_open_store_file_is_recognised(tmp_path):
    path = str(tmp_path / "s.db")
    storage = Storage(path)
    try:
        with storage:
            for i in range(100):
                inc(i)
        assert os.path.getsize(path + "-wal") > 0  # everything is still in the log
        shutil.copyfile(path, tmp_path / "plain-copy.db")  # the store file alone, as `cp` would copy it
        before = (tmp_path / "plain-copy.db").read_bytes()
        for read_only in (False, True):
            with pytest.raises(StoreError, match="copy of a store file taken while the store was open"):
                Storage(str(tmp_path / "plain-copy.db"), read_only=read_only)
        assert (tmp_path / "plain-copy.db").read_bytes() == before  # nothing was changed
        assert not os.path.exists(tmp_path / "plain-copy.db-wal")
        good = Storage(storage.backup(str(tmp_path / "backup.db")), read_only=True)
        assert good.cache_info()["calls"] == 100 and good.check().ok
        good.close()
    finally:
        storage.close()
    shutil.copyfile(path, tmp_path / "after-close.db")  # once closed, the file alone is the whole store
    closed_copy = Storage(str(tmp_path / "after-close.db"), read_only=True)
    assert closed_copy.cache_info()["calls"] == 100
    closed_copy.close()


def test_a_backup_carries_its_large_values_and_is_a_store_of_its_own(tmp_path):
    path = str(tmp_path / "s.db")
    storage = Storage(path, overflow_threshold_MB=0.001)
    try:
        with storage:
            refs = [blob(i) for i in range(3)]
        copy = storage.backup(str(tmp_path / "b.db"))
        assert (
            value_files(copy + "-overflow") == value_files(path + "-overflow")
            and len(value_files(path + "-overflow")) == 3
        )
        storage.drop_calls([storage.get_call(storage.get_ref_creator(refs[0]).hid)])
        storage.cleanup_refs()  # deletes one file of the original's folder, none of the copy's
        assert len(value_files(path + "-overflow")) == 2
        backup = Storage(copy, overflow_threshold_MB=0.001)
        try:
            assert backup.check().ok
            with backup.allow_new_calls(False), backup:
                assert [backup.unwrap(blob(i)) for i in range(3)] == [bytes([i]) * 5000 for i in range(3)]
            assert backup.backend.store_id != storage.backend.store_id
            with pytest.raises(StoreError, match="exists"):
                storage.backup(copy)
        finally:
            backup.close()
    finally:
        storage.close()


def test_an_in_memory_store_is_backed_up_to_a_file(tmp_path):
    storage = Storage()
    with storage:
        for i in range(10):
            inc(i)
    copy = storage.backup(tmp_path / "mem.db")
    file_store = Storage(copy)
    try:
        with file_store.allow_new_calls(False), file_store:
            assert file_store.unwrap(inc(9)) == 10
    finally:
        file_store.close()
