"""Deleting from frames: the selected histories' own calls go, upstream calls other histories use stay, dependents
go with what they depend on, every deletion can be previewed and reports what it deleted; drop_calls refuses what is
not a call.

The pipeline has the shape of the seed example: ``load_data(n_class)`` feeds ``train_model`` for two values of
``n_estimators`` each, and ``get_acc`` scores each model on the same data: 2 + 4 + 4 = 10 calls.
"""

from __future__ import annotations

import logging
from collections import Counter

import pytest

from graphstore import DeletionReport, NotACallError, Storage, op

RAN: list = []


@op
def load_data(n_class=2):
    RAN.append(("load_data", n_class))
    return list(range(n_class)), [i % 2 for i in range(n_class)]


@op
def train_model(X, y, n_estimators=5):
    RAN.append(("train_model", len(X), n_estimators))
    return sum(X) * n_estimators + sum(y)


@op
def get_acc(model, X, y):
    RAN.append(("get_acc", len(X)))
    return model / 100


@op
def summary(X):
    RAN.append(("summary", len(X)))
    return len(X)


def pipeline(storage, classes=(2, 5), estimators=(5, 10)):
    with storage:
        for n_class in classes:
            X, y = load_data(n_class)
            for n_estimators in estimators:
                get_acc(train_model(X, y, n_estimators=n_estimators), X, y)


def per_op(storage) -> dict:
    return dict(Counter(name for (name,) in storage.backend.execute("SELECT op_name FROM calls")))


FULL = {"load_data": 2, "train_model": 4, "get_acc": 4}


@pytest.fixture
def seeded(storage):
    RAN.clear()
    pipeline(storage)
    assert per_op(storage) == FULL
    RAN.clear()
    return storage


def frame(storage):
    return storage.cf(train_model).expand_all()


def test_deleting_one_history_keeps_the_shared_upstream_call_and_reports_what_went(seeded):
    sel = frame(seeded).where("n_estimators", lambda v: v == 5).where("n_class", lambda v: v == 2)
    assert len(sel.df()) == 1
    preview = sel.delete_calls(dry_run=True)
    assert per_op(seeded) == FULL  # a dry run deletes nothing
    assert preview.dry_run and preview.by_op == {"get_acc": 1, "train_model": 1}
    assert set(preview.kept.values()) == {"load_data"}
    assert str(preview) == (
        "would delete 2 calls: get_acc 1, train_model 1; kept 1 call that other histories use: load_data 1"
    )

    report = sel.delete_calls()
    assert list(report) == list(preview) and report.by_op == preview.by_op and not report.dry_run
    assert isinstance(report, DeletionReport) and report and len(report) == 2
    assert per_op(seeded) == {"load_data": 2, "train_model": 3, "get_acc": 3}
    assert str(report).startswith("deleted 2 calls: get_acc 1, train_model 1")
    assert not seeded.backend.get_calls(list(report))

    pipeline(seeded)  # load_data(2) retraces; only the deleted history runs again
    assert sorted(RAN) == [("get_acc", 2), ("train_model", 2, 5)]
    assert per_op(seeded) == FULL


def test_the_frame_keeps_its_other_histories_intact(seeded):
    before = frame(seeded).df(include_calls=False)
    frame(seeded).where("n_estimators", lambda v: v == 10).delete_calls()
    after = frame(seeded).df(include_calls=False)
    assert sorted(after["n_estimators"]) == [5, 5] and sorted(after["n_class"]) == [2, 5]
    kept = before[before["n_estimators"] == 5].sort_values("n_class")["var_1"].tolist()
    assert after.sort_values("n_class")["var_1"].tolist() == kept
    assert per_op(seeded) == {"load_data": 2, "train_model": 2, "get_acc": 2}
    pipeline(seeded)
    assert sorted(RAN) == [("get_acc", 2), ("get_acc", 5), ("train_model", 2, 10), ("train_model", 5, 10)]


def test_selecting_every_user_of_an_upstream_call_deletes_it_too(seeded):
    report = frame(seeded).where("n_class", lambda v: v == 5).delete_calls()
    assert report.by_op == {"get_acc": 2, "load_data": 1, "train_model": 2} and not report.kept
    assert per_op(seeded) == {"load_data": 1, "train_model": 2, "get_acc": 2}


def test_a_call_outside_the_frame_using_an_upstream_output_keeps_it(seeded):
    with seeded:
        X, _ = load_data(5)
        summary(X)  # another history, which the frame (expanded back only) does not show
    cf = seeded.cf(get_acc).expand_back(recursive=True)
    assert "summary" not in cf.fnames
    report = cf.where("n_class", lambda v: v == 5).delete_calls()
    assert report.by_op == {"get_acc": 2, "train_model": 2} and set(report.kept.values()) == {"load_data"}
    assert per_op(seeded) == {"load_data": 2, "train_model": 2, "get_acc": 2, "summary": 1}


def test_a_call_in_the_frame_using_an_upstream_output_is_selected_with_it(seeded):
    with seeded:
        X, _ = load_data(5)
        summary(X)
    report = frame(seeded).where("n_class", lambda v: v == 5).delete_calls()  # summary's row has n_class 5 too
    assert report.by_op == {"get_acc": 2, "load_data": 1, "summary": 1, "train_model": 2}


def test_include_shared_upstream_deletes_it_and_its_other_users_as_dependents(seeded):
    sel = frame(seeded).where("n_estimators", lambda v: v == 5).where("n_class", lambda v: v == 2)
    preview = sel.delete_calls(dry_run=True, include_shared_upstream=True)
    report = sel.delete_calls(include_shared_upstream=True)
    assert list(preview) == list(report)
    assert report.by_op == {"get_acc": 2, "load_data": 1, "train_model": 2}
    assert Counter(report.ops[h] for h in report.dependents) == {"get_acc": 1, "train_model": 1}
    assert "2 of them because they used outputs of deleted calls" in str(report)
    assert per_op(seeded) == {"load_data": 1, "train_model": 2, "get_acc": 2}


def test_a_frame_of_one_op_deletes_its_calls_and_their_dependents_only(seeded):
    report = seeded.cf(train_model).where("n_estimators", lambda v: v == 5).delete_calls()
    # get_acc is not in the frame, but cannot stay without its model: a dependent
    assert report.by_op == {"get_acc": 2, "train_model": 2}
    assert sorted(report.ops[h] for h in report.dependents) == ["get_acc", "get_acc"]
    assert per_op(seeded) == {"load_data": 2, "train_model": 2, "get_acc": 2}


def test_a_frame_without_filters_deletes_all_of_its_calls(seeded):
    assert frame(seeded).delete_calls() == 10  # a report compares equal to its count, as the old int did
    assert per_op(seeded) == {}


def test_an_empty_selection_deletes_nothing(seeded, caplog):
    with caplog.at_level(logging.INFO, logger="graphstore"):
        report = frame(seeded).where("n_class", lambda v: v == 99).delete_calls()
    assert not report and len(report) == 0 and list(report) == [] and str(report) == "deleted 0 calls"
    assert per_op(seeded) == FULL


def test_deletions_are_logged_and_dry_runs_are_not(seeded, caplog):
    sel = seeded.cf(get_acc).where("model", lambda v: v > 50)
    with caplog.at_level(logging.INFO, logger="graphstore"):
        sel.delete_calls(dry_run=True)
        assert not caplog.records
        sel.delete_calls()
    assert [r.getMessage() for r in caplog.records] == ["Dropped 2 calls (get_acc: 2)"]


def test_delete_calls_from_df_previews_and_reports(seeded):
    cf = frame(seeded)
    df = cf.df()
    rows = df[df["n_class"] == 2]
    preview = cf.delete_calls_from_df(rows, dry_run=True)
    assert preview.by_op == {"get_acc": 2, "load_data": 1, "train_model": 2} and per_op(seeded) == FULL
    assert list(cf.delete_calls_from_df(rows)) == list(preview)


# --- drop_calls: what it takes, what it returns -----------------------------------------------------------------------


def test_drop_calls_returns_the_deleted_calls_and_previews_them(seeded):
    calls = seeded.cf(train_model).where("n_estimators", lambda v: v == 10).df()["train_model"].tolist()
    preview = seeded.drop_calls(calls, dry_run=True)
    assert per_op(seeded) == FULL
    report = seeded.drop_calls(calls)
    assert list(report) == list(preview) and len(report) == 4
    assert set(report.dependents) == {h for h in report if report.ops[h] == "get_acc"}
    assert calls[0] in report and calls[0].hid in report
    assert seeded.drop_calls(calls) == 0 and not seeded.drop_calls(calls)


def test_drop_calls_without_dependents_reports_only_what_was_asked(seeded):
    call = seeded.cf(load_data).df()["load_data"].iloc[0]
    report = seeded.drop_calls(call, delete_dependents=False)
    assert list(report) == [call.hid] and report.dependents == () and report.by_op == {"load_data": 1}


@pytest.mark.parametrize(
    "make, named",
    [
        (lambda s, ref: ref, "AtomRef"),
        (lambda s, ref: [ref], "AtomRef"),
        (lambda s, ref: 3, "3 (int)"),
        (lambda s, ref: None, "None"),
        (lambda s, ref: [None], "None"),
        (lambda s, ref: [[s.get_ref_creator(ref)]], "list"),
        (lambda s, ref: {"a": 1}, "dict"),
        (lambda s, ref: ref.hid, "the id of a value"),
    ],
)
def test_drop_calls_refuses_what_is_not_a_call(seeded, make, named):
    with seeded:
        X, _ = load_data(2)
        ref = train_model(X, _, n_estimators=5)
    with pytest.raises(NotACallError) as ei:
        seeded.drop_calls(make(seeded, ref))
    assert isinstance(ei.value, TypeError) and named in str(ei.value)
    assert per_op(seeded) == FULL


def test_a_ref_is_refused_with_a_hint_at_its_creator(seeded):
    with seeded:
        X, y = load_data(2)
    with pytest.raises(NotACallError, match=r"get_ref_creator"):
        seeded.drop_calls(X)
    assert seeded.drop_calls(seeded.get_ref_creator(X), dry_run=True).by_op == {
        "get_acc": 2,
        "load_data": 1,
        "train_model": 2,
    }


def test_a_dry_run_works_on_a_read_only_store(db_path, store_kind):
    s = Storage(db_path)
    pipeline(s)
    s.close()
    ro = Storage(db_path, read_only=True)
    try:
        report = ro.cf(get_acc).delete_calls(dry_run=True)
        assert report.by_op == {"get_acc": 4} and report.dry_run
    finally:
        ro.close()
