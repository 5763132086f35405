"""Looking into a store without the code that filled it: ``storage.ops()`` and ``storage.cf(op_name)``."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pandas as pd
import pytest
from graphstore.query import FrameStructureError

from graphstore import Storage

RECORD = """\
import sys
from graphstore import Storage, op

storage = Storage(sys.argv[1])


@op
def prep(x):
    return x * 10


@op(version=VERSION)
def train(data, rate=0.5):
    return data * rate + VERSION


with storage:
    for i in range(N):
        train(prep(i))
storage.close()
"""


def record(location: str, version: int, n: int) -> None:
    code = textwrap.dedent(RECORD).replace("VERSION", str(version)).replace("N", str(n))
    subprocess.run([sys.executable, "-c", code, location], check=True, capture_output=True, text=True)


@pytest.fixture
def recorded(store_kind, db_path):
    """A store filled by another program, with two versions of ``train``; also when it was filled."""
    before = pd.Timestamp.now(tz="UTC")
    record(db_path, 0, 4)
    record(db_path, 1, 3)
    return db_path, before, pd.Timestamp.now(tz="UTC")


def test_ops_lists_each_op_and_version_with_its_calls(recorded):
    location, before, after = recorded
    storage = Storage(location)
    table = storage.ops()
    assert list(table.columns) == ["op", "version", "calls", "first", "last"]
    assert table[["op", "version", "calls"]].values.tolist() == [["prep", 0, 4], ["train", 0, 4], ["train", 1, 3]]
    assert all(table["first"] <= table["last"]) and table["first"].dt.tz is not None
    assert before <= table["first"].min() and table["last"].max() <= after  # the calls' times, in UTC
    storage.close()


def test_a_frame_by_op_name_holds_the_calls_of_every_version(recorded):
    storage = Storage(recorded[0])
    df = storage.cf("train").expand_back().df()
    assert len(df) == 7
    assert sorted(zip(df["x"], df["var_0"])) == sorted(
        [(i, i * 10 * 0.5) for i in range(4)] + [(i, i * 10 * 0.5 + 1) for i in range(3)]
    )
    assert {c.op_name for c in df["train"]} == {"train"} and len({c.hid for c in df["train"]}) == 7
    storage.close()


def test_a_name_the_store_does_not_hold_names_the_ops_it_does(recorded):
    storage = Storage(recorded[0])
    with pytest.raises(FrameStructureError, match=r"no op of that name.*ops: prep, train"):
        storage.cf("trian")
    with pytest.raises(FrameStructureError, match="no call or ref with id"):
        storage.cf("0" * 32)  # an id, never an op name
    storage.close()


def test_an_empty_store_has_no_ops(storage):
    assert storage.ops().empty
    with pytest.raises(FrameStructureError, match=r"ops: none"):
        storage.cf("train")
