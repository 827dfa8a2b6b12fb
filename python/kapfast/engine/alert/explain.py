"""``kapfast explain``: why an alert node decided what it did for each group at its last point.

Recording is cheap by design: per evaluated chunk the node hands over what it already has (the
batch, the rows' group codes, the level table the Rust lambdas computed) and :class:`ExplainLog`
points each group of the chunk at it: work per *group* of a chunk, none per point. Everything
else (which row is the group's last, the values its lambdas saw, each expression's result and
which one decided) is worked out when someone asks (:func:`explain_node`), for one row a group.

Memory stays bounded: at most :data:`MAX_CHUNKS` whole chunks are kept for the groups whose last
point they hold; past that the rows of the groups still pointing at the oldest go into one small
compacted record (a row per group, all groups in one batch), and when there are more than
:data:`MAX_COMPACTS` the newest compacted records are merged (size-tiered, and all of them once they
hold more than two rows a group): an idle group costs a row or two, not a record.

Events are recorded per event (not per point): sent, inhibited, no handler, template failure,
and handler failures (from the delivery lane's thread) per group.
"""

from __future__ import annotations

import threading
from array import array
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from operator import attrgetter, countOf
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from kapfast.batch import PointBatch, batch_delete
from kapfast.engine.alert.levels import LevelEvaluator, LevelTable
from kapfast.engine.alert.state import CRITICAL, INFO, LEVEL_NAMES, OK, WARNING, GroupState
from kapfast.engine.messages import Group
from kapfast.lambdas import EvalState
from kapfast.timefmt import format_rfc3339_ns

if TYPE_CHECKING:
    from kapfast.engine.alert.node import AlertNode

_ID = attrgetter("id")
#: whole chunks kept for explanations (the rest are cut down to a row per group)
MAX_CHUNKS = 1
#: compacted records kept before they are merged into one
MAX_COMPACTS = 8

# reasons nothing was sent (docs/operations.md, the explain contract)
STATE_CHANGES_ONLY = "stateChangesOnly"
FLAPPING = "flapping"
INHIBITED = "inhibited"
NO_HANDLER = "no_handler"
HANDLER_FAILED = "handler_failed"
NO_RECOVERIES = "noRecoveries"
OK_NOT_SENT = "ok_not_sent"
TEMPLATE_ERROR = "template_error"


class _Seen:
    """One evaluated chunk (or batch), shared by the groups whose last point is in it."""

    __slots__ = ("batch", "codes", "event_ns", "events", "groups", "row", "seq", "seqs", "table")

    def __init__(
        self,
        seq: int,
        batch: PointBatch,
        codes: Sequence[int] | np.ndarray[Any, Any] | None,
        groups: Sequence[Group],
        table: LevelTable,
        row: int = -1,
    ) -> None:
        self.seq = seq
        self.batch = batch
        self.codes = codes  # None: one group, ``row`` is its row
        self.groups = groups
        self.table = table
        self.row = row
        #: a batch's event time (its tmax or its highest point's time); None: the point's own
        self.event_ns: int | None = None
        #: a compacted record's per-group evaluation and event time (None: ``seq``/``event_ns``)
        self.seqs: Sequence[int] | None = None
        self.events: list[int | None] | None = None

    def last_rows(self) -> dict[int, int]:
        """Each group code's last row (C-speed: a dict built from pairs keeps the last)."""
        if self.codes is None:
            return {0: self.row}
        codes = self.codes
        if isinstance(codes, np.ndarray):
            codes = codes.tolist()  # ints, not numpy scalars, as the dict's keys
        return dict(zip(codes, range(len(codes)), strict=False))

    def seq_of(self, code: int) -> int:
        """The evaluation the point of group ``code`` came from (a compacted record mixes them)."""
        return self.seq if self.seqs is None else self.seqs[code]

    def event_of(self, code: int) -> int | None:
        """The event time of group ``code``'s batch (None: the point's own time)."""
        return self.event_ns if self.events is None else self.events[code]


def _narrow(batch: PointBatch, refs: frozenset[str] | None) -> PointBatch:
    """Only what an explanation of the row reads: the fields and tags its lambdas reference
    (every field when they reference none); the group's own tags are in its ``Group``."""
    if refs is None:
        return batch
    tags = [t for t in batch.tag_keys() if t not in refs]
    fields = [f for f in batch.field_names() if f not in refs]
    if not tags and not fields:
        return batch
    return batch_delete(batch, fields, tags)[0]


def _compact(parts: Sequence[tuple[_Seen, int, int, Group]], refs: frozenset[str] | None) -> _Seen:
    """One record holding, for each ``(record, code, row, group)``, that row: the groups whose last
    point is in a record let go share one small batch (a row each) instead of a record each."""
    batches: list[PointBatch] = []
    match: list[list[bytes]] = [[] for _ in LEVEL_NAMES]
    hold: list[list[bytes]] = [[] for _ in LEVEL_NAMES]
    seen_match = [False] * len(LEVEL_NAMES)
    seen_hold = [False] * len(LEVEL_NAMES)
    start = 0
    while start < len(parts):
        rec = parts[start][0]
        end = start
        while end < len(parts) and parts[end][0] is rec:
            end += 1
        rows = [r for _, _, r, _ in parts[start:end]]
        batches.append(_narrow(rec.batch.take(rows), refs))
        for lvl in range(len(LEVEL_NAMES)):
            for col, out, seen in ((rec.table.match, match, seen_match), (rec.table.hold, hold, seen_hold)):
                c = col[lvl] if lvl < len(col) else None
                if c is not None:
                    seen[lvl] = True
                    out[lvl].append(bytes(c[r] for r in rows))
                else:
                    out[lvl].append(bytes(len(rows)))
        start = end
    table = LevelTable(
        [b"".join(m) if s else None for m, s in zip(match, seen_match, strict=True)],
        [b"".join(h) if s else None for h, s in zip(hold, seen_hold, strict=True)],
    )
    batch = batches[0] if len(batches) == 1 else PointBatch.concat(batches)
    rec_out = _Seen(parts[-1][0].seq, batch, range(len(parts)), [g for *_, g in parts], table)
    rec_out.seqs = array("q", [rec.seq_of(code) for rec, code, _, _ in parts])
    events = [rec.event_of(code) for rec, code, _, _ in parts]
    rec_out.events = None if events.count(None) == len(events) else events
    return rec_out


def _live_parts(rec: _Seen, last: Mapping[str, _Seen]) -> list[tuple[_Seen, int, int, Group]]:
    """``(rec, code, row, group)`` of each group whose last point is still in ``rec``."""
    rows = rec.last_rows()
    return [
        (rec, code, rows[code], g)
        for code, g in enumerate(rec.groups)
        if code in rows and last.get(g.id) is rec
    ]


class Outcome(NamedTuple):
    """What became of the event a group's point made (a tuple: many are made at C speed)."""

    seq: int
    time_ns: int
    reason: str | None  # None: sent
    text: str = ""


@dataclass
class ExplainLog:
    """The last evaluation of every group of one alert node, and what its events became."""

    last: dict[str, _Seen] = field(default_factory=dict)
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    #: group id -> (event time, handler, error): delivery failures, from the lane's thread too
    failures: dict[str, tuple[int, str, str]] = field(default_factory=dict)
    seq: int = 0
    #: the newest MAX_CHUNKS records, kept whole
    _whole: deque[_Seen] = field(default_factory=deque)
    #: the fields and tags the level lambdas reference (None: keep every one): a compacted
    #: row keeps only these
    refs: frozenset[str] | None = None
    #: records made of the last rows of the records let go (a row per group)
    _compacts: list[_Seen] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def saw_chunk(
        self,
        batch: PointBatch,
        codes: Sequence[int] | np.ndarray[Any, Any],
        groups: Sequence[Group],
        table: LevelTable,
    ) -> None:
        self.seq += 1
        self._point(_Seen(self.seq, batch, codes, groups, table))

    def saw_batch(self, batch: PointBatch, row: int, group: Group, table: LevelTable, event_ns: int) -> None:
        self.seq += 1
        rec = _Seen(self.seq, batch, None, [group], table, row)
        rec.event_ns = event_ns
        self._point(rec)

    def _point(self, rec: _Seen) -> None:
        # every step at C speed (map, zip, countOf): the hot path pays a few ns a group
        last = self.last
        last.update(zip(map(_ID, rec.groups), repeat(rec)))
        whole = self._whole
        whole.append(rec)
        if len(whole) <= MAX_CHUNKS:
            return
        oldest = whole.popleft()
        if not countOf(map(last.get, map(_ID, oldest.groups)), oldest):
            return  # every group of it has a newer last point
        self._keep(_live_parts(oldest, last))
        compacts = self._compacts
        if len(compacts) > MAX_COMPACTS:
            # Many small records: the newest merged into one, their stale rows dropped. Only the
            # newest run no larger than what is merged into it (sizes at least double towards
            # the oldest, so a row is merged a few times over, and a single-row chunk of a new
            # group does not pay a merge of every group's row: write → alert latency), unless
            # the records hold more than twice as many rows as there are groups: then all of
            # them, so the memory stays under two rows a group.
            start = len(compacts) - 1
            size = len(compacts[start].batch)
            while start > 0 and len(compacts[start - 1].batch) <= size:
                start -= 1
                size += len(compacts[start].batch)
            if sum(len(rec.batch) for rec in compacts) > 2 * len(last):
                start = 0
            if start < len(compacts) - 1:
                old = compacts[start:]
                del compacts[start:]
                self._keep([p for rec in old for p in _live_parts(rec, last)])

    def _keep(self, parts: list[tuple[_Seen, int, int, Group]]) -> None:
        if not parts:
            return
        rec = _compact(parts, self.refs)
        self._compacts.append(rec)
        self.last.update(zip(map(_ID, rec.groups), repeat(rec)))

    def forget(self, group_id: str) -> None:
        self.last.pop(group_id, None)
        self.outcomes.pop(group_id, None)
        with self._lock:
            self.failures.pop(group_id, None)

    def outcome(self, group_id: str, time_ns: int, reason: str | None, text: str = "") -> None:
        self.outcomes[group_id] = Outcome(self.seq, time_ns, reason, text)

    def outcomes_of(
        self, group_ids: Iterable[str], times: Iterable[int], reason: str | None, text: str = ""
    ) -> None:
        """:meth:`outcome` for many groups sharing one outcome (each at its own event time);
        the records are made at C speed (``tuple.__new__`` over zipped columns)."""
        made = map(tuple.__new__, repeat(Outcome), zip(repeat(self.seq), times, repeat(reason), repeat(text)))
        self.outcomes.update(zip(group_ids, made, strict=True))

    def handler_failed(self, group_id: str, time_ns: int, handler: str, error: str) -> None:
        with self._lock:
            self.failures[group_id] = (time_ns, handler, error)

    def failure(self, group_id: str) -> tuple[int, str, str] | None:
        with self._lock:
            return self.failures.get(group_id)


# --- explaining ----------------------------------------------------------------------------------


def _json_value(v: Any) -> Any:
    return v if isinstance(v, (str, int, float, bool)) or v is None else str(v)


def _expressions(
    levels: LevelEvaluator, texts: Mapping[str, str], table: LevelTable, row: int, one: PointBatch
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for lvl in (CRITICAL, WARNING, INFO):
        name = levels.names[lvl]
        for prog, prop, col, is_reset in (
            (levels.levels[lvl], name, table.match[lvl], False),
            (levels.resets[lvl], name + "Reset", table.hold[lvl], True),
        ):
            if prog is None:
                continue
            error: str | None = None
            result: bool | None = bool(col[row]) if col is not None else None
            if is_reset and result is not None:
                result = not result  # the table keeps "holds" = reset false
            if not prog.is_stateful:
                # a stateless lambda again on the one row: its error text (the table has 0 for it)
                res = prog.eval(one, state=EvalState(), now_ns=0)
                if res.error_count:
                    error, result = res.first_error or "evaluation failed", None
            out.append(
                {
                    "level": LEVEL_NAMES[lvl],
                    "kind": "reset" if is_reset else "level",
                    "expression": texts.get(prop, ""),
                    "result": result,
                    "error": error,
                }
            )
    return out


def _reason(
    node: AlertNode, st: GroupState, gid: str, level: int, prev: int, t: int, seq: int
) -> tuple[bool, str | None, str]:
    """Whether the group's last point sent an event, else why not (a reason and its text)."""
    rules = node.rules
    out = node.explain_log.outcomes.get(gid)
    name = LEVEL_NAMES[level]
    if out is not None and out.seq == seq and out.time_ns == t:
        if out.reason is not None:
            return False, out.reason, out.text
        fail = node.explain_log.failure(gid)
        if fail is not None and fail[0] == t:
            return False, HANDLER_FAILED, f"the {fail[1]} handler failed: {fail[2]}"
        return True, None, ""
    if level == OK and prev == OK:
        return False, OK_NOT_SENT, "level OK and it was OK before: there is nothing to recover from"
    if rules.flapping is not None and st.flapping:
        low, high = rules.flapping
        return (
            False,
            FLAPPING,
            (
                f"the group is flapping ({st.percent_change():.3f} of its last {len(st.history)} levels "
                f"changed; .flapping({low}, {high})): events are held until it settles below {low}"
            ),
        )
    if level == OK and rules.no_recoveries:
        return False, NO_RECOVERIES, f"recovery from {LEVEL_NAMES[prev]} not sent: .noRecoveries() is set"
    if rules.state_changes_only and not st.changed:
        return False, STATE_CHANGES_ONLY, f"level unchanged ({name}) and .stateChangesOnly() is set"
    return False, OK_NOT_SENT, f"level {name}: no event for this point"


class _Rows:
    """Each record's group index and last rows, worked out once per explanation."""

    def __init__(self) -> None:
        self._done: dict[int, tuple[dict[str, int], dict[int, int]]] = {}

    def row(self, rec: _Seen, gid: str) -> tuple[int, int] | None:
        got = self._done.get(id(rec))
        if got is None:
            got = self._done[id(rec)] = ({g.id: i for i, g in enumerate(rec.groups)}, rec.last_rows())
        code = got[0].get(gid)
        row = got[1].get(code) if code is not None else None
        return None if code is None or row is None else (code, row)


def _explain_group(
    node: AlertNode, gid: str, rec: _Seen, texts: Mapping[str, str], rows: _Rows
) -> dict[str, Any] | None:
    st = node.group_state(gid)
    found = rows.row(rec, gid)
    if st is None or found is None:
        return None
    code, row = found
    group = rec.groups[code]
    one = rec.batch.take([row])
    name, tags, fields, t = one.rows()[0]
    event_ns = rec.event_of(code)
    if event_ns is not None:
        t = event_ns
    level = st.level
    prev = st.previous_level()
    # An OK point of a group that was OK is skipped by the node (no state update): its level is
    # OK and so was the one before (flapping off; with flapping every point updates the state).
    recovered_here = st.changed and st.last_triggered == t
    if level == OK and node.rules.flapping is None and not recovered_here:
        prev = OK
    refs: set[str] = set()
    for prog in (*node.levels.levels, *node.levels.resets):
        if prog is not None:
            refs.update(prog.references)
    values = {k: _json_value(v) for k, v in sorted(fields.items()) if not refs or k in refs}
    exprs = _expressions(node.levels, texts, rec.table, row, one)
    deciding: dict[str, Any] | None = None
    if level != OK:
        lname = LEVEL_NAMES[level]
        hit = next((e for e in exprs if e["level"] == lname and e["kind"] == "level"), None)
        if hit is not None and hit["result"]:
            deciding = {"level": lname, "expression": hit["expression"]}
        else:  # held by a reset lambda that was false
            reset = next((e for e in exprs if e["level"] == lname and e["kind"] == "reset"), None)
            if reset is not None:
                deciding = {"level": lname, "expression": reset["expression"], "held_by_reset": True}
    sent, reason, text = _reason(node, st, gid, level, prev, t, rec.seq_of(code))
    return {
        "group": gid if gid else "nil",
        "tags": dict(group.tags) if group.tags else {k: v for k, v in tags.items() if k in group.dims},
        "time": format_rfc3339_ns(t),
        "level": LEVEL_NAMES[level],
        "previous_level": LEVEL_NAMES[prev],
        "deciding": deciding,
        "values": values,
        "expressions": exprs,
        "sent": sent,
        "reason": reason,
        "reason_text": text or None,
        "measurement": name,
    }


def explain_node(node: AlertNode) -> dict[str, Any]:
    """The explanation of one alert node: a group entry for every group it has seen."""
    texts = node.level_texts()
    groups = []
    rows = _Rows()
    for gid, rec in sorted(node.explain_log.last.items()):
        entry = _explain_group(node, gid, rec, texts, rows)
        if entry is not None:
            groups.append(entry)
    return {"node": node.name, "groups": groups}


__all__ = ["MAX_CHUNKS", "ExplainLog", "explain_node"]
