"""Telling which records a store refused, and reporting them (see ``graphstore.writer``)."""

from __future__ import annotations

from .backends import Backend, Batch, CallRow, MemberRecord, RefRecord, ValueRecord
from .errors import WriteRefusedError


class Unwritten(Exception):
    """(Internal) Writing a batch group by group stopped at a store error: the groups not written, and the error."""

    def __init__(self, groups: list[Batch], ops: list, refused: list, error: Exception) -> None:
        super().__init__(str(error))
        self.groups, self.ops, self.refused, self.error = groups, ops, refused, error


_REFUSAL_SIGNS = (
    "too big",
    "datatype mismatch",
    "error binding parameter",
    "overflowerror",
    "dataerror",
    "integrityerror",
    "unicodeencodeerror",
    "interfaceerror",
)


def refuses_records(exc: BaseException) -> bool:
    """Whether an error is the store refusing these records (rather than the store being unwritable just now)."""
    if isinstance(exc, (WriteRefusedError, OverflowError, UnicodeError, TypeError, ValueError)):
        return True
    text = f"{type(exc).__name__} {exc} {exc.__cause__!r}".lower()
    return any(sign in text for sign in _REFUSAL_SIGNS)


def needs_refused(group: Batch, hids: set[str], cids: set[str]) -> bool:
    """Whether a group uses a ref, or a value it does not carry itself, that a refused group introduced."""
    if not hids:
        return False
    for row in map(CallRow._make, group.calls):
        if any(h in hids for h in row.input_hids()):
            return True
    if any(MemberRecord._make(m).elt_hid in hids for m in group.members):
        return True
    own = {ValueRecord._make(v).cid for v in group.values}
    refs = map(RefRecord._make, group.refs)
    return any(r.cid in cids and r.cid not in own for r in refs)


def refusal_message(backend: Backend, refused: list[tuple[Batch, Exception]]) -> str:
    where = backend.location
    lines = []
    for group, exc in refused[:5]:
        if not group.calls:
            continue
        row = CallRow._make(group.calls[0])
        outs = ", ".join(repr(name) for name in row.outputs[0::3])
        lines.append(f"op {row.op_name} (call {row.hid[:12]}..., outputs {outs or 'none'}): {exc}")
    more = f" (and {len(refused) - 5} more)" if len(refused) > 5 else ""
    return (
        f"store {where} refused {len(refused)} recorded call(s){more}; they are not memoized and the other calls "
        "of their batch were stored:\n  " + "\n  ".join(lines)
    )
