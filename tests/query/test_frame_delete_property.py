"""Property: deleting from a frame never deletes a call of a history the frame did not select, unless that call used
(directly or not) an output of a deleted call of the selection; it leaves a selected call only when another history
uses it; every selected history is gone afterwards; a dry run reports exactly what the deletion then deletes; and
running the program again computes exactly the deleted calls.

Programs have the seed pipeline's shape (``load_data`` -> ``train_model`` per ``n_estimators`` -> ``get_acc``), with
random classes and estimators, and sometimes a ``summary`` of the data that no frame below expands to (or, from
``expand_all``, one that it does). Selections are ``isin`` filters, which the naive evaluator (``tests/naive_eval.py``)
applies too: it gives the selected and the unselected histories independently of the SQL compiler.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from graphstore import Storage, op
from naive_eval import naive_rows, read_store

RAN: list = []


@op
def load_data(n_class=2):
    RAN.append("load_data")
    return list(range(n_class)), [i % 2 for i in range(n_class)]


@op
def train_model(X, y, n_estimators=5):
    RAN.append("train_model")
    return sum(X) * n_estimators + sum(y)


@op
def get_acc(model, X, y):
    RAN.append("get_acc")
    return model / 100


@op
def summary(X):
    RAN.append("summary")
    return len(X)


programs = st.dictionaries(
    st.integers(2, 5), st.tuples(st.sets(st.integers(1, 3), min_size=1), st.booleans()), min_size=1, max_size=4
)


def run(storage, program):
    with storage:
        for n_class, (estimators, summarize) in sorted(program.items()):
            X, y = load_data(n_class)
            for n in sorted(estimators):
                get_acc(train_model(X, y, n_estimators=n), X, y)
            if summarize:
                summary(X)


def frames(storage):
    return {
        "all": storage.cf(train_model).expand_all(),
        "back": storage.cf(get_acc).expand_back(recursive=True),
        "train": storage.cf(train_model),
    }


def calls_of(pattern, rows) -> set:
    funcs = set(pattern.fnames())
    return {h for row in rows for node, hids in row if node in funcs for h in hids}


def downstream(store, seeds) -> set:
    """Every call that uses, directly or not, an output of a seed (seeds excluded unless reached again)."""
    out, todo = set(), list(seeds)
    while todo:
        call = todo.pop()
        for ref in store.outs.get(call, {}).values():
            for consumer, _ in store.consumers.get(ref, ()):
                if consumer not in out:
                    out.add(consumer)
                    todo.append(consumer)
    return out


@given(
    programs,
    st.sampled_from(["all", "back", "train"]),
    st.sampled_from(["n_estimators", "n_class"]),
    st.sets(st.integers(1, 5), max_size=3),
    st.booleans(),
)
def test_frame_deletion_keeps_unselected_histories(program, which, node, picked, shared):
    storage = Storage()
    try:
        run(storage, program)
        cf = frames(storage)[which]
        if node not in cf.vnames:
            node = "n_estimators"
        sel = cf.isin(node, sorted(picked))
        store = read_store(storage)
        chosen_rows = naive_rows(storage, sel.pattern, store)
        all_rows = naive_rows(storage, replace(sel.pattern, filters=()), store)
        chosen = calls_of(sel.pattern, chosen_rows)
        others = calls_of(sel.pattern, [r for r in all_rows if r not in chosen_rows])

        preview = sel.delete_calls(dry_run=True, include_shared_upstream=shared)
        assert len(read_store(storage).calls) == len(store.calls)
        report = sel.delete_calls(include_shared_upstream=shared)
        assert list(report) == list(preview) and report.ops == preview.ops
        gone = set(report)
        after = read_store(storage)
        assert gone == set(store.calls) - set(after.calls)

        # nothing outside the selection goes, unless it used an output of a deleted selected call
        own = gone & chosen
        assert gone - chosen <= downstream(store, own)
        if not shared:  # calls of unselected histories go only as dependents, never as part of the selection
            assert not own & others
            assert gone & others <= downstream(store, own - others)
            # and what goes beyond the selection depends on its final calls (no selected call uses their
            # outputs), not on an upstream call that other histories share
            finals = {
                h
                for h in own
                if not {k for ref in store.outs[h].values() for k, _ in store.consumers.get(ref, ())} & chosen
            }
            assert gone - chosen <= downstream(store, finals)
            # a selected call is left only for another history: a row left out, or a call that stays uses it
            for h in chosen - gone:
                users = {k for ref in store.outs[h].values() for k, _ in store.consumers.get(ref, ())}
                assert h in others or users - gone
        else:
            assert chosen <= gone
        assert gone - chosen <= set(report.dependents) <= gone - set(report.kept)
        # every selected history is gone
        left = naive_rows(storage, replace(sel.pattern, filters=()), after)
        assert not set(chosen_rows) & set(left)

        RAN.clear()
        run(storage, program)  # exactly the deleted calls run again (their contents are all distinct)
        assert Counter(RAN) == Counter(report.ops.values())
    finally:
        storage.close()
