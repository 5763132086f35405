"""Benchmark: how long ``hash_value`` takes for a few typical values, and recording a call with a scalar argument.

    .venv/bin/python benchmarks/bench_hashing.py            # best of 5 rounds, microseconds per value
    .venv/bin/python benchmarks/bench_hashing.py --json     # the same as JSON

Each value is hashed ``number`` times in a round; the best round is reported, as microseconds per hash.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import enum
import json
import os
import sys
import timeit

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from graphstore import Storage, hash_value, op  # noqa: E402


@dataclasses.dataclass
class TrainConfig:
    lr: float = 0.01
    epochs: int = 10
    layers: tuple = (64, 32)
    name: str = "baseline"
    tags: frozenset = frozenset({"a", "b"})


class Color(enum.Enum):
    RED = 1
    GREEN = 2


Point = collections.namedtuple("Point", "x y")


class Plain:
    def __init__(self) -> None:
        self.a = 1
        self.b = "two"
        self.c = [3.0, 4.0]


def values() -> dict:
    index = collections.defaultdict(set)
    for i in range(20):
        index[i % 5].add(i)
    return {
        "int": 12345,
        "float": 1.5,
        "str": "hello world",
        "list_10_ints": list(range(10)),
        "dict_10": {f"k{i}": i for i in range(10)},
        "ndarray_1000": np.arange(1000, dtype=np.float64),
        "dataframe_100x3": pd.DataFrame({"a": np.arange(100), "b": np.ones(100), "c": np.zeros(100)}),
        "dataclass": TrainConfig(),
        "enum": Color.GREEN,
        "namedtuple": Point(1, 2),
        "plain_object": Plain(),
        "defaultdict_set": index,
        "list_100_dataclasses": [TrainConfig(lr=i / 100) for i in range(100)],
    }


def bench(number: int = 2000, rounds: int = 5) -> dict:
    out = {}
    for name, value in values().items():
        n = max(1, number // 50) if name.startswith("list_100") else number
        best = min(timeit.repeat(lambda value=value: hash_value(value), number=n, repeat=rounds))
        out[name] = round(best / n * 1e6, 2)

    @op
    def inc(x):
        return x + 1

    storage = Storage()
    with storage:
        calls = 5000
        best = min(timeit.repeat(lambda: [inc(i) for i in range(calls)], number=1, repeat=1))
    storage.close()
    out["record_scalar_call"] = round(best / calls * 1e6, 2)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = bench()
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for name, us in result.items():
            print(f"{name:24} {us:10.2f} µs")
