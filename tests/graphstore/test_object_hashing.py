"""Objects are hashed by content (docs/hashing.md, "Objects"): equal objects get equal ids in every process, a call
on a script's dataclass is computed once across processes, parts that only a pickle can hash are warned about, and
stores recorded under scheme 1 keep working."""

from __future__ import annotations

import collections
import dataclasses
import enum
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from graphstore import HashingError, InputMutatedWarning, SchemaVersionError, Storage, UnstableIdWarning, op
from graphstore.hashing import SCHEME_VERSION, hash_value
from graphstore.objhash import hash_value_noting
from store_tools import rows_elsewhere
from strategies import object_fields

ROOT = str(Path(__file__).resolve().parents[2])


class Holder:
    """A plain object whose attributes are given as a dict."""

    def __init__(self, fields: dict) -> None:
        for name, value in fields.items():
            setattr(self, name, value)


class OtherHolder(Holder):
    pass


class SlotHolder:
    __slots__ = ("a", "b", "c", "d")

    def __init__(self, fields: dict) -> None:
        for name, value in fields.items():
            setattr(self, name, value)


@dataclasses.dataclass
class Box:
    content: object = None
    label: str = "box"


class Mode(enum.Enum):
    FAST = "fast"
    SLOW = "slow"


class Node:
    def __init__(self, parent=None) -> None:
        self.parent = parent
        self.children: list = []
        if parent is not None:
            parent.children.append(self)


def rebuilt(value):
    """An equal value built anew: sets from their elements in reverse order, dicts in reverse insertion order."""
    if isinstance(value, (set, frozenset)):
        return type(value)(reversed(list(value)))
    if isinstance(value, dict):
        return {k: rebuilt(v) for k, v in reversed(list(value.items()))}
    if isinstance(value, list):
        return [rebuilt(v) for v in value]
    return value


# --- properties ------------------------------------------------------------------------------------------------------


@given(object_fields)
def test_objects_built_from_equal_content_have_equal_ids(fields):
    again = rebuilt(fields)
    for cls in (Holder, OtherHolder, SlotHolder):
        assert hash_value(cls(fields)) == hash_value(cls(again))
    assert hash_value(Box(fields)) == hash_value(Box(again))
    assert hash_value(collections.namedtuple("Row", "x y")(fields, 1)) == hash_value(
        collections.namedtuple("Row", "x y")(again, 1)
    )
    assert hash_value_noting(Holder(fields))[1] == []


@given(object_fields, object_fields)
def test_an_objects_id_follows_the_id_of_its_state(f1, f2):
    same_state = hash_value(f1) == hash_value(f2)
    assert (hash_value(Holder(f1)) == hash_value(Holder(f2))) == same_state
    assert (hash_value(SlotHolder(f1)) == hash_value(SlotHolder(f2))) == same_state
    assert (hash_value(Box(f1)) == hash_value(Box(f2))) == same_state


@given(object_fields)
def test_the_type_is_part_of_the_id(fields):
    ids = {
        hash_value(Holder(fields)),
        hash_value(OtherHolder(fields)),
        hash_value(SlotHolder(fields)),
        hash_value(fields),
    }
    assert len(ids) == 4


@given(st.lists(st.tuples(st.sampled_from("abcd"), st.integers(0, 9)), max_size=12), st.randoms())
def test_defaultdict_of_sets_ignores_insertion_order(pairs, rnd):
    shuffled = list(pairs)
    rnd.shuffle(shuffled)
    index1, index2 = collections.defaultdict(set), collections.defaultdict(set)
    for (k1, v1), (k2, v2) in zip(pairs, shuffled):
        index1[k1].add(v1)
        index2[k2].add(v2)
    assert hash_value(index1) == hash_value(index2)
    assert hash_value(index1) != hash_value(dict(index1))
    assert hash_value(index1) != hash_value(collections.defaultdict(frozenset, index1))


def test_enum_members_namedtuples_and_builtin_subclasses_by_content():
    assert hash_value(Mode.FAST) == hash_value(Mode("fast")) != hash_value(Mode.SLOW)
    assert hash_value(Mode.FAST) != hash_value("fast")
    Point = collections.namedtuple("Point", "x y")
    assert hash_value(Point(1, 2)) == hash_value(Point(x=1, y=2)) != hash_value((1, 2))
    assert hash_value(Point(1, 2)) != hash_value(Point(2, 1))
    assert hash_value(collections.Counter("abca")) == hash_value(collections.Counter("aabc"))
    assert hash_value(Box(np.arange(3))) != hash_value(Box(np.arange(4)))
    assert hash_value(Box(pd.DataFrame({"a": [1]}))) == hash_value(Box(pd.DataFrame({"a": [1]})))


# --- what only a pickle can hash -------------------------------------------------------------------------------------


def test_cycles_through_objects_fall_back_to_the_pickle_and_are_noted():
    root = Node()
    Node(root)
    cid, parts = hash_value_noting(root)
    assert cid == hash_value(root)
    assert parts == ["Node (it refers back to itself)"]
    shared = Box("x")
    assert hash_value_noting([shared, Box(shared), shared])[1] == []  # met twice, but not inside itself


def test_a_long_chain_of_objects_falls_back_to_the_pickle_and_is_noted():
    head = None
    for i in range(300):  # deeper than Python code recurses here, not deeper than pickle goes
        head = Box(head, str(i))
    cid, parts = hash_value_noting(head)
    assert cid == hash_value(head)
    assert parts == ["Box (it is nested too deeply to be hashed by content)"]
    nested: list = []
    for _ in range(3000):
        nested = [nested]
    with pytest.raises(HashingError, match="nested too deeply"):
        hash_value(nested)  # builtins only: as in scheme 1


def test_functions_by_name_lambdas_and_local_functions_by_pickle():
    def local(x):
        return x

    assert hash_value_noting(Box(len))[1] == []
    assert hash_value_noting(Box(rebuilt))[1] == []
    assert hash_value(Box(rebuilt)) != hash_value(Box(len))
    for value, name in ((Box(lambda: 1), "<lambda>"), (Box(local), "local")):
        parts = hash_value_noting(value)[1]
        assert len(parts) == 1 and name in parts[0]


def test_an_argument_hashed_through_its_pickle_is_warned_about_once_per_op_and_argument(storage, log):
    @op
    def apply(cfg, other=None):
        log.append("apply")
        return 1

    with storage:
        with pytest.warns(UnstableIdWarning) as record:
            apply(Box(lambda: 1))
        assert len(record) == 1
        message = str(record[0].message)
        assert "op apply" in message and "argument 'cfg'" in message and "<lambda>" in message
        assert record[0].filename == __file__  # it points at the call in the user's code
        with warnings.catch_warnings():
            warnings.simplefilter("error", UnstableIdWarning)
            apply(Box(lambda: 2))  # the same op and argument: warned about already
            apply(Box(len), other=[Mode.FAST, {"k": Box()}])  # hashed by content: nothing to warn about
        root = Node()
        Node(root)
        with pytest.warns(UnstableIdWarning, match=r"argument 'other'.*refers back to itself"):
            apply(Box(len), other=root)
    assert log == ["apply"] * 4


def test_an_argument_that_cannot_be_hashed_names_op_argument_and_type(storage):
    @op
    def apply(cfg):
        return 1

    with storage:
        with pytest.raises(HashingError, match=r"op apply, argument 'cfg'.*generator"):
            apply(Box(x for x in range(3)))


def test_an_op_changing_an_object_argument_is_noticed(storage):
    @op
    def bump(cfg):
        cfg.label = "changed"
        return 1

    with storage:
        with pytest.warns(InputMutatedWarning, match="bump"):
            bump(Box(label="original"))


# --- across processes ------------------------------------------------------------------------------------------------

TRAIN_SCRIPT = """
import dataclasses
import sys
import warnings

from graphstore import Storage, UnstableIdWarning, op

warnings.simplefilter("error", UnstableIdWarning)


@dataclasses.dataclass
class TrainConfig:
    lr: float = 0.01
    tags: frozenset = frozenset({"warmup", "decay", "dropout", "clip", "mixup"})
    schedule: dict = dataclasses.field(default_factory=lambda: {"milestones": {10, 20, 30, 40}})


@op
def train(cfg):
    print("trained", flush=True)
    return cfg.lr * 2


storage = Storage(sys.argv[1])
with storage:
    result = storage.unwrap(train(TrainConfig()))
storage.close()
print("result", result)
"""


def test_a_call_on_a_scripts_dataclass_runs_once_across_processes(tmp_path, db_path, store_kind):
    script = tmp_path / "train_script.py"
    script.write_text(TRAIN_SCRIPT, encoding="utf-8")
    outputs = []
    for seed in ("1", "2", "3"):
        env = dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=ROOT)
        proc = subprocess.run(
            [sys.executable, str(script), db_path], env=env, capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, proc.stderr
        outputs.append(proc.stdout.split())
    assert outputs[0] == ["trained", "result", "0.02"]
    assert outputs[1] == outputs[2] == ["result", "0.02"]  # found in the store: not run again


# --- stores of scheme 1 ----------------------------------------------------------------------------------------------


# The hashing-scheme tests below run on a SQLite file and a PostgreSQL database: both record the scheme in ``meta``.


def _meta(path: str) -> dict:
    return dict(rows_elsewhere(path, "SELECT key, value FROM meta WHERE key LIKE 'hash_scheme%'"))


def _set_scheme(path: str, scheme: str) -> None:
    rows_elsewhere(path, "UPDATE meta SET value = ? WHERE key = 'hash_scheme'", (scheme,))


def _ops(log):
    @op
    def inc(x):
        log.append("inc")
        return x + 1

    @op
    def total(arr, frame):
        log.append("total")
        return float(arr.sum()) + float(frame["a"].sum())

    @op
    def describe(cfg):
        log.append("describe")
        return cfg.label

    return inc, total, describe


def test_a_store_of_scheme_1_is_opened_retraced_and_marked(store_kind, db_path, log):
    """Builtin, numpy and pandas ids are the same under schemes 1 and 2: such a store's calls are retraced."""
    inc, total, describe = _ops(log)
    arr, frame = np.arange(5.0), pd.DataFrame({"a": [1, 2]})
    s = Storage(db_path)
    with s:
        inc(1)
        total(arr, frame)
    s.close()
    assert _meta(db_path) == {"hash_scheme": str(SCHEME_VERSION)}
    _set_scheme(db_path, "1")  # the store as graphstore with scheme 1 leaves it

    ro = Storage(db_path, read_only=True)
    with ro:
        assert ro.unwrap(inc(1)) == 2
    ro.close()
    assert _meta(db_path) == {"hash_scheme": "1"}  # a read-only open changes nothing

    s = Storage(db_path)
    with s:
        assert s.unwrap(inc(1)) == 2
        assert s.unwrap(total(arr, frame)) == 13.0
        assert s.unwrap(describe(Box(label="new"))) == "new"
    s.close()
    assert log == ["inc", "total", "describe"]  # only the new call ran
    assert _meta(db_path) == {"hash_scheme": "2", "hash_scheme_first": "1"}
    s = Storage(db_path)
    with s:
        assert s.unwrap(describe(Box(label="new"))) == "new"
    s.close()
    assert log == ["inc", "total", "describe"]
    assert _meta(db_path) == {"hash_scheme": "2", "hash_scheme_first": "1"}


@pytest.mark.parametrize("read_only", [False, True], ids=["read-write", "read-only"])
def test_a_store_of_a_newer_scheme_is_refused(store_kind, db_path, read_only):
    Storage(db_path).close()
    _set_scheme(db_path, str(SCHEME_VERSION + 1))
    with pytest.raises(SchemaVersionError, match=r"scheme 3.*upgrade graphstore"):
        Storage(db_path, read_only=read_only)
    assert _meta(db_path) == {"hash_scheme": "3"}


def test_scheme_1_ids_of_objects_are_not_made_any_more():
    """What scheme 1 made of an object (its cloudpickle) is not its id now: such calls miss once (documented)."""
    import cloudpickle
    import xxhash

    value = Box(frozenset({"a", "b"}))
    scheme_1 = xxhash.xxh3_128_digest(b"O" + cloudpickle.dumps(value, protocol=5)).hex()
    assert hash_value(value) != scheme_1
