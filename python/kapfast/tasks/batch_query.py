"""The InfluxQL a batch task's ``query()`` node runs, and when it runs it.

Kapacitor parses the node's query once, refuses anything but one SELECT, then for every run sets
``time >= start AND time < stop`` (ANDed after the query's own condition), replaces the query's
GROUP BY with the node's ``.groupBy()`` dimensions (none if it has none) and its fill with
``.fill()`` when set. ``.alignGroup()`` moves a ``time()`` dimension's offset so that its buckets
start at the query's start. A run happens on every tick of ``.every()`` (aligned to multiples of
it with ``.align()``) or of ``.cron()``; it covers ``[tick - offset - period, tick - offset)``.

We rewrite the query text at clause level instead of through a full InfluxQL parser: quoted
identifiers, strings and regexes are skipped, and the clauses after WHERE (GROUP BY, fill, ORDER
BY, LIMIT, OFFSET, SLIMIT, SOFFSET, tz) are found at parenthesis depth zero, so a condition such
as ``"host" = 'GROUP BY'`` stays intact.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from kapfast.engine.messages import BatchMessage
from kapfast.engine.rows import group_of
from kapfast.errors import InputError
from kapfast.influxdb.answer import AnswerSeries
from kapfast.influxdb.errors import InfluxDBError
from kapfast.recordings import RecordedBatch, RecordedPoint
from kapfast.tasks.cron import CronSchedule
from kapfast.tick.pipeline import Duration, Node, Star, TimeDimension
from kapfast.timefmt import format_rfc3339_ns, parse_rfc3339_ns

# Clause keywords that may follow WHERE in a SELECT, in the order InfluxQL allows them.
_TAIL = ("GROUP BY", "FILL", "ORDER BY", "LIMIT", "OFFSET", "SLIMIT", "SOFFSET", "TZ")
_KEYWORD = re.compile(
    r"\b(WHERE|GROUP\s+BY|ORDER\s+BY|SLIMIT|SOFFSET|LIMIT|OFFSET|FILL(?=\s*\()|TZ(?=\s*\())\b", re.IGNORECASE
)


def _past(q: str, i: int, close: str) -> int:
    """The index just after the ``close`` that ends the quoted run opening at ``q[i]``."""
    j = i + 1
    while j < len(q) and q[j] != close:
        j += 2 if q[j] == "\\" else 1
    return j + 1


def _top_level_keywords(q: str) -> list[tuple[str, int, int]]:
    """(keyword, start, end) of each clause keyword outside quotes, regexes and parentheses."""
    out: list[tuple[str, int, int]] = []
    i, depth, n = 0, 0, len(q)
    after_match_op = False  # a '/' right after =~ or !~ opens a regex
    while i < n:
        c = q[i]
        if c in "'\"" or (c == "/" and after_match_op):
            i = _past(q, i, c)
            after_match_op = False
            continue
        if q.startswith(("=~", "!~"), i):
            after_match_op = True
            i += 2
            continue
        if c.isalpha() and (i == 0 or not (q[i - 1].isalnum() or q[i - 1] == "_")):
            m = _KEYWORD.match(q, i) if depth == 0 else None
            if m:
                out.append((" ".join(m.group(1).upper().split()), m.start(), m.end()))
                i = m.end()
            while i < n and (q[i].isalnum() or q[i] == "_"):
                i += 1
            after_match_op = False
            continue
        depth += 1 if c == "(" else -1 if c == ")" else 0
        if not c.isspace():
            after_match_op = False
        i += 1
    return out


def _split_statements(q: str) -> list[str]:
    """The statements of ``q`` split on ``;`` outside quotes (empty trailing ones dropped)."""
    parts, start, i = [], 0, 0
    while i < len(q):
        if q[i] in "'\"":
            i = _past(q, i, q[i])
            continue
        if q[i] == ";":
            parts.append(q[start:i])
            start = i + 1
        i += 1
    parts.append(q[start:])
    return [p.strip() for p in parts if p.strip()]


def next_tick(every: int, align: bool, cron: CronSchedule | None, after_ns: int) -> int | None:
    """A query node's first run strictly after ``after_ns``: by ``.cron()``, else every ``.every()``
    (on multiples of it with ``.align()``); None if a cron never fires again."""
    if cron is not None:
        return cron.next_after(after_ns)
    if align:
        return (after_ns // every + 1) * every
    return after_ns + every


def schedule(node: Node) -> tuple[int, CronSchedule | None]:
    """A query node's ``.every()`` and ``.cron()``, checked as Kapacitor's ``newQueryNode``."""
    every = _ns(node.prop("every"))
    cron_text = node.prop("cron")
    cron = CronSchedule.parse(str(cron_text)) if cron_text else None
    if every < 0:
        raise InputError("'every' duration must must non-negative")
    if every == 0 and cron is None:
        raise InputError("must define one of 'every' or 'cron'")
    if every and cron is not None:
        raise InputError("must not set both 'every' and 'cron' properties")
    return every, cron


def _ns(v: Any) -> int:
    return v.ns if isinstance(v, Duration) else 0


def _ident(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class BatchQuery:
    """One ``query()`` node, ready to render its InfluxQL for any ``[start, stop)``."""

    head: str  # SELECT ... FROM ... (everything before WHERE or the first tail clause)
    condition: str  # the query's own WHERE condition, or ""
    dimensions: list[str | TimeDimension | Star]
    fill: str  # " fill(...)" or ""
    rest: str  # ORDER BY / LIMIT / OFFSET / SLIMIT / SOFFSET / tz(...), as written
    align_group: bool
    period: int
    every: int
    align: bool
    offset: int
    cron: CronSchedule | None
    cluster: str
    by_name: bool
    dropped_group_by: str = ""  # a GROUP BY the query text had; Kapacitor ignores it too

    @classmethod
    def from_node(cls, node: Node) -> BatchQuery:
        text = str(node.args[0]) if node.args else ""
        statements = _split_statements(text)
        if len(statements) != 1:
            raise InputError(f"query must be a single select statement, got {len(statements)} statements")
        q = statements[0]
        if not re.match(r"\s*SELECT\b", q, re.IGNORECASE):
            raise InputError(f"query is not a select statement {json.dumps(q)}")  # Go's %q
        kws = _top_level_keywords(q)
        if not re.search(r"\bFROM\b", q, re.IGNORECASE):
            raise InputError(f"failed to parse InfluxQL query: found EOF, expected FROM in {q!r}")
        cut = kws[0][1] if kws else len(q)
        head = q[:cut].strip()
        condition, fill, rest, group_by = "", "", [], ""
        for i, (kw, s, e) in enumerate(kws):
            end = kws[i + 1][1] if i + 1 < len(kws) else len(q)
            body = q[e:end].strip()
            if kw == "WHERE":
                condition = body
            elif kw == "GROUP BY":
                group_by = body
            elif kw == "FILL":
                fill = " fill" + body
            else:
                rest.append(q[s:end].strip())
        fill_prop = node.prop("fill")
        if fill_prop not in (None, ""):
            fill = f" fill({fill_prop})"
        every, cron = schedule(node)
        dims: list[str | TimeDimension | Star] = []
        for d in node.prop("groupBy") or []:
            if isinstance(d, TimeDimension | Star):
                if isinstance(d, TimeDimension) and any(isinstance(x, TimeDimension) for x in dims):
                    raise InputError("groupBy cannot have more than one time dimension")
                dims.append(d)
            else:
                dims.append(str(d))
        return cls(
            head=head,
            condition=condition,
            dimensions=dims,
            fill=fill,
            rest=(" " + " ".join(rest)) if rest else "",
            align_group=bool(node.prop("alignGroup")),
            period=_ns(node.prop("period")),
            every=every,
            align=bool(node.prop("align")),
            offset=_ns(node.prop("offset")),
            cron=cron,
            cluster=str(node.prop("cluster") or ""),
            by_name=bool(node.prop("groupByMeasurement")),
            dropped_group_by=group_by,
        )

    @property
    def grouped_by_time(self) -> bool:
        return any(isinstance(d, TimeDimension) for d in self.dimensions)

    def text(self, start: int, stop: int) -> str:
        """The query for ``[start, stop)`` (ns since the epoch)."""
        times = f"time >= '{format_rfc3339_ns(start)}' AND time < '{format_rfc3339_ns(stop)}'"
        where = f"({self.condition}) AND {times}" if self.condition else times
        dims = []
        for d in self.dimensions:
            if isinstance(d, TimeDimension):
                offset = start % d.ns if self.align_group and d.ns else d.offset
                dims.append(f"time({d.ns}ns, {offset}ns)" if offset else f"time({d.ns}ns)")
            elif isinstance(d, Star):
                dims.append("*")
            else:
                dims.append(_ident(d))
        group_by = f" GROUP BY {', '.join(dims)}" if dims else ""
        return f"{self.head} WHERE {where}{group_by}{self.fill}{self.rest}"

    def next_tick(self, after_ns: int) -> int | None:
        """The first run time strictly after ``after_ns``; None if a cron never fires again."""
        return next_tick(self.every, self.align, self.cron, after_ns)

    def bounds(self, tick_ns: int) -> tuple[int, int]:
        """The ``[start, stop)`` a run at ``tick_ns`` covers."""
        stop = tick_ns - self.offset
        return stop - self.period, stop


def answer_time(v: Any) -> int:
    """A ``time`` of an InfluxQL answer: ns with ``epoch=ns``, RFC 3339 text without it."""
    if isinstance(v, str):
        try:
            return parse_rfc3339_ns(v)
        except ValueError as exc:
            raise InfluxDBError(f"invalid time {v!r} in the answer: {exc}") from None
    return int(v)


def live_batches(series: Sequence[AnswerSeries], q: BatchQuery, stop: int) -> Iterator[BatchMessage]:
    """The batch messages a live query node emits for one answer (its series, decoded in Rust by
    :func:`kapfast.influxdb.answer.answer_series`): grouped by the series' tags, stamped with the
    query's stop unless the query groups by time and the batch has a time (Kapacitor's
    ``QueryNode.doQuery``: a ``mean`` over the last 30m checked at 03:21:09 is stamped 03:21:09,
    not with the start of its interval that InfluxDB answers)."""
    for s in series:
        tmax = s.tmax_ns if s.tmax_ns and q.grouped_by_time else stop
        group = group_of(s.name, s.tags, sorted(s.tags), q.by_name)
        yield BatchMessage(s.name, group, tmax, s.batch, q.by_name)


def recorded_batch(s: AnswerSeries, by_name: bool) -> RecordedBatch:
    """One series of an answer as a recording stores it: its points with the series' tags (its
    fields by name, as Kapacitor's JSON writes a Go map), its time the latest point's."""
    points = [RecordedPoint(t, fields, dict(s.tags)) for _, _, fields, t in s.batch.rows()]
    return RecordedBatch(s.name, dict(s.tags), points, tmax_ns=s.tmax_ns, time_ns=s.tmax_ns, by_name=by_name)


def recorded_batches(series: Sequence[AnswerSeries], q: BatchQuery, stop: int) -> Iterator[RecordedBatch]:
    """The batches a batch recording stores for one answer: stamped as the live node stamps
    them (Kapacitor's replay service uses the same test)."""
    for s in series:
        rb = recorded_batch(s, q.by_name)
        if not rb.time_ns or not q.grouped_by_time:
            rb.tmax_ns = rb.time_ns = stop
        yield rb


__all__ = ["BatchQuery", "answer_time", "live_batches", "recorded_batch", "recorded_batches"]
