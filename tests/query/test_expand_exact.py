"""Expansion is closed and exact, checked against the program itself.

The test records, in plain Python, which calls a random program makes and how values flow between them (raw values
equal by content are one value; memoized calls are one call), without asking the store. From that record it derives
what an expanded frame must hold:

- ``expand_back(recursive=True)`` from an op: the op's calls and every call upstream of them, nothing else;
- every expansion: each function node holds exactly the calls connected to the seed through the frame's edges
  (creators through output edges when expanding back, consumers through input edges when expanding forward, both
  for ``expand_all``), and the frame is complete (the creators, or consumers, of the values it holds are in it);
- one more expansion of the same kind adds nothing.
"""

from __future__ import annotations

from graphstore.query.model import IN, OUT
from hypothesis import example, given, settings
from hypothesis import strategies as st

from graphstore import Storage, op
from graphstore.structs import MList


@op
def add(a, b=7):
    return a + b


@op(nout=3)
def fan(x):
    return x + 1, x + 2, str(x)


@op
def halve(x):
    return x // 2


@op
def total(xs: MList[int]):
    return sum(xs)


@op(output_names=["s", "d"])
def sumdiff(p, q):
    return p + q, p - q


@op
def inc(x):
    return x + 1


OPS = {"add": add, "fan": fan, "halve": halve, "total": total, "sumdiff": sumdiff, "inc": inc}
MAKE = "__make_list__"


class Program:
    """The calls a program made and the flow of values between them, recorded as it runs."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.calls: dict = {}  # call key -> (op, {label: value key}, {label: value key})
        self.by_hid: dict = {}  # store id of a call -> call key (filled after the run)
        self._probe: list = []  # (call key, a Ref it made, how to reach the call from it)

    def call(self, name: str, *args):
        """Run op ``name`` on values of the pool (``(key, obj)`` pairs) and record the call."""
        fn = OPS[name]
        if name == "total":
            elts = args[0]
            ins = {f"elts_{i}": k for i, (k, _) in enumerate(elts)}
            lst = self._record(MAKE, ins, ["lst"])[0]
            result = fn([o for _, o in elts])
            keys = self._record("total", {"xs": lst}, ["output_0"])
            self._probe.append(("list", lst[1], result))
        else:
            labels = {"add": ["a", "b"], "fan": ["x"], "halve": ["x"], "sumdiff": ["p", "q"], "inc": ["x"]}[name]
            ins = {lab: k for lab, (k, _) in zip(labels, args)}
            if name == "add" and len(args) == 1:
                ins["b"] = ("raw", 7)
            outs = {"fan": ["output_0", "output_1", "output_2"], "sumdiff": ["s", "d"]}.get(name, ["output_0"])
            keys = self._record(name, ins, outs)
            result = fn(*[o for _, o in args])
        results = result if isinstance(result, tuple) else (result,)
        self._probe.append(("op", keys[0][1], results[0]))
        return [kv for kv in zip(keys, results) if kv[0][2] != "output_2"]  # (fan's string is not used again)

    def _record(self, op_name: str, ins: dict, outs: list) -> list:
        key = (op_name, tuple(sorted(ins.items())))
        self.calls[key] = (op_name, ins, {lab: ("out", key, lab) for lab in outs})
        return [("out", key, lab) for lab in outs]

    def finish(self) -> None:
        """Match the recorded calls with the store's, through the refs the ops returned."""
        self.storage.commit()
        for tag, key, ref in self._probe:
            call = self.storage.get_ref_creator(ref)
            if tag == "list":  # the list a total call consumed: reached through that call
                call = self.storage.get_ref_creator(call.inputs["xs"])
            self.by_hid[call.hid] = key
        assert len(self.by_hid) == len(self.calls) == len(self.storage.backend.execute("SELECT id FROM calls"))

    # --- what frames must hold ----------------------------------------------------------------------------------

    def creator(self, value) -> object:
        return value[1] if value[0] == "out" else None

    def consumers(self, value, op_name: str, label: str) -> set:
        return {
            k
            for k, (o, ins, _) in self.calls.items()
            if o == op_name and any(_matches(label, lab) and v == value for lab, v in ins.items())
        }

    def upstream(self, seeds: set) -> set:
        todo, seen = list(seeds), set(seeds)
        while todo:
            for v in self.calls[todo.pop()][1].values():
                c = self.creator(v)
                if c is not None and c not in seen:
                    seen.add(c)
                    todo.append(c)
        return seen

    def members(self, pattern, seed_op: str, back: bool, forward: bool) -> dict:
        """Function node -> the calls connected to the seed (all calls of ``seed_op``) through the frame's edges."""
        fm = {f.name: set() for f in pattern.funcs}
        fm[seed_op] = {k for k, c in self.calls.items() if c[0] == seed_op}
        vm = {v: set() for v in pattern.vnames()}
        while True:
            grew = False
            for e in pattern.edges:
                for c in fm[e.func]:
                    ports = self.calls[c][1] if e.direction == IN else self.calls[c][2]
                    vm[e.var].update(v for lab, v in ports.items() if _matches(e.label, lab))
            for e in pattern.edges:
                f = pattern.func(e.func)
                for v in vm[e.var]:
                    if e.direction == OUT and back:
                        c = self.creator(v)
                        new = (
                            {c}
                            if c is not None and self.calls[c][0] == f.op and self.calls[c][2].get(e.label) == v
                            else set()
                        )
                    elif e.direction == IN and forward:
                        new = self.consumers(v, f.op, e.label)
                    else:
                        continue
                    if not new <= fm[f.name]:
                        fm[f.name] |= new
                        grew = True
            if not grew:
                return {"funcs": fm, "vars": vm}


def _matches(label: str, stored: str) -> bool:
    return stored.startswith(label[1:] + "_") if label.startswith("*") else stored == label


instruction = st.one_of(
    st.tuples(st.sampled_from(["add1", "fan", "halve", "inc"]), st.integers(0, 40)),
    st.tuples(st.sampled_from(["add2", "sumdiff"]), st.integers(0, 40), st.integers(0, 40)),
    st.tuples(st.just("total"), st.lists(st.integers(0, 40), min_size=1, max_size=3)),
    st.tuples(st.just("raw"), st.sampled_from([1000, 2000, 3, 7])),
)


def run(storage: Storage, program: list) -> Program:
    rec = Program(storage)
    pool = [(("raw", 1000), 1000), (("raw", 2000), 2000)]
    pick = lambda i: pool[i % len(pool)]  # noqa: E731
    with storage:
        for ins in program:
            kind = ins[0]
            if kind == "raw":
                pool.append((("raw", ins[1]), ins[1]))
            elif kind == "total":
                out = rec.call("total", [pick(i) for i in ins[1]])
            elif kind in ("add2", "sumdiff"):
                out = rec.call("add" if kind == "add2" else kind, pick(ins[1]), pick(ins[2]))
            else:
                out = rec.call("add" if kind == "add1" else kind, pick(ins[1]))
            if kind != "raw":
                pool.extend(out)
    rec.finish()
    return rec


def frame_calls(cf, rec: Program) -> dict:
    return {f: {rec.by_hid[c.hid] for c in calls} for f, calls in cf.calls_by_func().items()}


def check(storage: Storage, rec: Program, seed: str, kind: str) -> None:
    cf = storage.cf(OPS[seed])
    grown = {
        "back": lambda c: c.expand_back(recursive=True),
        "forward": lambda c: c.expand_forward(recursive=True),
        "all": lambda c: c.expand_all(),
    }[kind]
    cf = grown(cf)
    got = frame_calls(cf, rec)
    want = rec.members(cf.pattern, seed, back=kind != "forward", forward=kind != "back")
    assert got == want["funcs"], (kind, cf)  # exact: the calls connected through the frame's edges, no others
    everything = set().union(*got.values())
    for v, values in want["vars"].items():  # complete: nothing connected to what the frame holds is left out
        for value in values:
            if kind != "forward" and rec.creator(value) is not None:
                assert rec.creator(value) in everything, (kind, v, value, cf)
            if kind != "back":
                users = {k for k, (o, ins, _) in rec.calls.items() if value in ins.values()}
                assert users <= everything, (kind, v, value, cf)
    if kind == "back":  # "everything upstream of this result", exactly
        assert everything == rec.upstream({k for k, c in rec.calls.items() if c[0] == seed})
    again = frame_calls(grown(cf), rec)  # closed: one more expansion of the same kind adds nothing
    assert set().union(*again.values()) == everything


@settings(max_examples=40, deadline=None)
@given(
    program=st.lists(instruction, min_size=1, max_size=10),
    seed=st.sampled_from(sorted(OPS)),
    kind=st.sampled_from(["back", "forward", "all"]),
)
@example(program=[("add1", 0), ("fan", 2), ("fan", 4), ("halve", 6)], seed="halve", kind="back")
@example(program=[("add1", 0), ("fan", 2), ("fan", 4), ("halve", 6)], seed="halve", kind="all")
@example(program=[("add1", 0), ("add2", 1, 2), ("add1", 3), ("inc", 4)], seed="inc", kind="back")
@example(program=[("raw", 3040), ("add1", 2), ("total", [3, 3]), ("raw", 5000), ("add1", 5)], seed="total", kind="back")
@example(
    program=[("add1", 0), ("raw", 3000), ("sumdiff", 2, 1), ("sumdiff", 2, 3), ("raw", 5000), ("add1", 5)],
    seed="sumdiff",
    kind="back",
)
def test_expansion_is_closed_and_exact(program, seed, kind):
    storage = Storage()
    try:
        rec = run(storage, program)
        check(storage, rec, seed, kind)
    finally:
        storage.close()


def _ops_and_inputs(cf) -> set:
    return {(c.op_name, tuple(sorted((k, r.hid) for k, r in c.inputs.items()))) for c in cf.calls.values()}


def test_the_reported_frames(storage):
    with storage:
        a = add(1000)
        p, q, r = fan(a)
        p2, q2, r2 = fan(q)
        halve(p2)
    for cf in (storage.cf(halve).expand_back(recursive=True), storage.cf(halve).expand_all()):
        assert storage.get_ref_creator(a).hid in cf.calls  # the call that made 1007 is there
        df = cf.df(include_calls=False)
        assert len(df) == 1 and all(not isinstance(v, list) for v in df.iloc[0])  # one value per role
    with storage:
        v1 = add(1000)
        inc(add(add(2000, v1)))
    cf = storage.cf(inc).expand_back(recursive=True)
    assert storage.get_ref_creator(v1).hid in cf.calls and len(cf.pattern.funcs_of_op("add")) == 3
    df = cf.df(include_calls=False)
    assert len(df) == 1 and not any(isinstance(v, list) for v in df.iloc[0])  # no cell mixes two roles


def test_a_value_consumed_twice_does_not_make_its_creator_node_full():
    for seed in (total, sumdiff):
        storage = Storage()
        with storage:
            a = add(3040 if seed is total else 1000)
            if seed is total:
                total([a, a])
            else:
                sumdiff(a, 2000)
                sumdiff(a, 3000)
            other = add(5000)
        cf = storage.cf(seed).expand_back(recursive=True)
        assert storage.get_ref_creator(other).hid not in cf.calls, seed  # it feeds nothing in the frame
        assert storage.get_ref_creator(a).hid in cf.calls
        storage.close()


@op
def unnamed_inc(x):
    return x + 1


@op(output_names=["z"])
def plus(x, y):
    return x + y


def test_expansion_keeps_names_and_forward_adds_outputs_only(storage):
    with storage:
        for x in range(3):
            plus(x, unnamed_inc(x))
    cf = storage.cf(unnamed_inc).expand_all()
    assert cf.vnames == {"x", "var_0", "z"} and ("var_0", "plus", "y") in cf.edges()  # var_0 is not renamed y
    fwd = storage.cf(unnamed_inc).expand_forward("var_0")
    assert fwd.vnames == {"x", "var_0", "z"}  # the consumer's other input is not added
    assert [e for e in fwd.edges() if e[1] == "plus"] == [("var_0", "plus", "y")]
    assert len(fwd.df()) == 3
