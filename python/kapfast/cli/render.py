"""The text ``kapacitor`` prints, byte for byte: tables, ``show`` pages, stats.

Scripts parse this output (``kapacitor list tasks | awk ...``), so every layout here reproduces
the Go format strings of ``cmd/kapacitor`` exactly, including their quirks: column widths come
from the byte length of the longest ID (Go's ``len``) while padding counts characters (Go's
``fmt`` counts runes); padded last columns keep their trailing blanks; sizes are humanized with
SI units; list dates are RFC 822 in the local zone, ``show`` dates in the zone the server sent.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kapfast.client import DBRP, Recording, Replay, Task, Template, Topic, TopicEvent, TopicHandler, Var
from kapfast.gofmt import duration_string, format_float, json_encode
from kapfast.tick.durations import parse_duration

_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))\Z"
)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def pad(value: str, width: int) -> str:
    """Go's ``%-{width}s``: left-justified, padded with blanks to ``width`` characters."""
    return value.ljust(width)


def go_len(value: str) -> int:
    """Go's ``len`` of a string: its UTF-8 byte count (what kapacitor sizes columns with)."""
    return len(value.encode("utf-8"))


def humanize_bytes(size: int) -> str:
    """go-humanize's ``Bytes``: SI units, one decimal below 10 (``0 B``, ``1.5 kB``, ``12 MB``)."""
    if size < 10:
        return f"{size} B"
    units = ("B", "kB", "MB", "GB", "TB", "PB", "EB")
    exp = min(math.floor(math.log(size) / math.log(1000)), len(units) - 1)
    val = math.floor(size / 1000**exp * 10 + 0.5) / 10
    return f"{val:.1f} {units[exp]}" if val < 10 else f"{val:.0f} {units[exp]}"


def dbrps_text(dbrps: Sequence[DBRP] | None) -> str:
    """Go's ``%v`` of ``[]DBRP``: ``["db"."rp" "db2"."rp2"]``."""
    return "[" + " ".join(str(d) for d in dbrps or ()) + "]"


# ---- times ------------------------------------------------------------------------------------


def parse_time(text: str) -> tuple[_dt.datetime, bool]:
    """An API timestamp -> (aware datetime, whether it was written in UTC with ``Z``).

    Fractions are truncated to microseconds (never rounded: a minute must not tick over).
    """
    m = _TIME.match(text or "")
    if m is None:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    frac = (m.group(7) or "")[:6].ljust(6, "0")
    if m.group(8):
        tz: _dt.tzinfo = _dt.UTC
    else:
        offset = _dt.timedelta(hours=int(m.group(10)), minutes=int(m.group(11)))
        tz = _dt.timezone(-offset if m.group(9) == "-" else offset)
    dt = _dt.datetime(
        int(m.group(1)),
        int(m.group(2)),
        int(m.group(3)),
        int(m.group(4)),
        int(m.group(5)),
        int(m.group(6)),
        int(frac),
        tzinfo=tz,
    )
    return dt, bool(m.group(8))


def _rfc822(dt: _dt.datetime, zone: str) -> str:
    return f"{dt.day:02d} {_MONTHS[dt.month - 1]} {dt.year % 100:02d} {dt.hour:02d}:{dt.minute:02d} {zone}"


def _offset_zone(offset: _dt.timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    return f"{sign}{minutes // 60:02d}{minutes % 60:02d}"


def _local(dt: _dt.datetime) -> _dt.datetime | None:
    try:
        return dt.astimezone()
    except (OverflowError, ValueError, OSError):  # year 1 in a zone west of UTC
        return None


def rfc822_as_sent(text: str) -> str:
    """``t.Format(time.RFC822)`` of a time Go decoded from JSON (``kapacitor show``).

    Go keeps UTC for ``Z``; an offset that is the local zone's becomes the local zone (and
    prints its abbreviation); any other offset prints as ``+hhmm``.
    """
    try:
        dt, utc = parse_time(text)
    except ValueError:
        return text
    if utc:
        return _rfc822(dt, "UTC")
    local = _local(dt)
    if local is not None and local.utcoffset() == dt.utcoffset():
        return _rfc822(local, local.tzname() or _offset_zone(dt.utcoffset() or _dt.timedelta()))
    return _rfc822(dt, _offset_zone(dt.utcoffset() or _dt.timedelta()))


def rfc822_local(text: str) -> str:
    """``t.Local().Format(time.RFC822)`` (``kapacitor list recordings|replays``)."""
    try:
        dt, _ = parse_time(text)
    except ValueError:
        return text
    local = _local(dt)
    if local is None:
        return _rfc822(dt.astimezone(_dt.UTC), "UTC")
    return _rfc822(local, local.tzname() or _offset_zone(local.utcoffset() or _dt.timedelta()))


# ---- vars -------------------------------------------------------------------------------------


def var_value(var: Var, *, required: str = "<nil>") -> str:
    """A var's value as Go's ``%v`` prints what the Go client decoded (durations as ``1m0s``)."""
    value = var.value
    if value is None:
        return required
    if var.type == "list":
        if not isinstance(value, list):
            return str(value)
        items = []
        for item in value:
            if isinstance(item, Mapping) and item.get("type") == "star":
                items.append("*")
            elif isinstance(item, Mapping):
                items.append(str(item.get("value", "")))
            else:
                items.append(str(item))
        return "[" + ", ".join(items) + "]"
    if var.type == "duration":
        if isinstance(value, int) and not isinstance(value, bool):
            return duration_string(value)
        if isinstance(value, str):
            # imported here: kapfast.tick loads the whole TICKscript compiler
            try:
                return duration_string(parse_duration(value))
            except ValueError:
                return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) or (var.type == "float" and isinstance(value, int)):
        return format_float(float(value))
    return str(value)


# ---- tables -----------------------------------------------------------------------------------


def _widest(values: Iterable[str], floor: int) -> int:
    return max([floor, *(go_len(v) for v in values)])


def tasks_table(tasks: Sequence[Task]) -> str:
    width = _widest((t.id for t in tasks), 2) + 1

    def row(i: str, typ: str, status: str, executing: str, dbrps: str) -> str:
        return f"{pad(i, width)}{pad(typ, 10)}{pad(status, 10)}{pad(executing, 10)}{dbrps}\n"

    out = [row("ID", "Type", "Status", "Executing", "Databases and Retention Policies")]
    for t in sorted(tasks, key=lambda t: t.id.encode("utf-8")):
        out.append(row(t.id, t.type, t.status, "true" if t.executing else "false", dbrps_text(t.dbrps)))
    return "".join(out)


def templates_table(templates: Sequence[Template]) -> str:
    width = _widest((t.id for t in templates), 2) + 1
    out = [f"{pad('ID', width)}{pad('Type', 10)}{pad('Vars', 40)}\n"]
    for t in sorted(templates, key=lambda t: t.id.encode("utf-8")):
        names = ",".join(sorted(t.vars or {}))
        out.append(f"{pad(t.id, width)}{pad(t.type, 10)}{pad(names, 40)}\n")
    return "".join(out)


def recordings_table(recordings: Sequence[Recording]) -> str:
    width = _widest((r.id for r in recordings), 2) + 1

    def row(i: str, typ: str, status: str, size: str, date: str) -> str:
        return f"{pad(i, width)}{pad(typ, 8)}{pad(status, 10)}{pad(size, 10)}{pad(date, 23)}\n"

    out = [row("ID", "Type", "Status", "Size", "Date")]
    for r in recordings:
        out.append(row(r.id, r.type, r.status, humanize_bytes(max(r.size, 0)), rfc822_local(r.date)))
    return "".join(out)


def replays_table(replays: Sequence[Replay]) -> str:
    wid = _widest((r.id for r in replays), 2) + 1
    wtask = _widest((r.task for r in replays), 4) + 1
    wrec = _widest((r.recording for r in replays), 9) + 1

    def row(i: str, task: str, rec: str, status: str, clock: str, date: str) -> str:
        return (
            f"{pad(i, wid)}{pad(task, wtask)}{pad(rec, wrec)}{pad(status, 9)}{pad(clock, 8)}{pad(date, 23)}\n"
        )

    out = [row("ID", "Task", "Recording", "Status", "Clock", "Date")]
    for r in replays:
        out.append(row(r.id, r.task, r.recording, r.status, r.clock, rfc822_local(r.date)))
    return "".join(out)


def topics_table(topics: Sequence[Topic]) -> str:
    wid = _widest((t.id for t in topics), 2) + 1
    wlevel = _widest((t.level for t in topics), 8) + 1
    out = [f"{pad('ID', wid)}{pad('Level', wlevel)}{'Collected':>10}\n"]
    for t in topics:
        out.append(f"{pad(t.id, wid)}{pad(t.level, wlevel)}{t.collected:>10}\n")
    return "".join(out)


def topic_handlers_table(rows: Sequence[tuple[str, str, str]]) -> str:
    """Rows of (topic, handler id, kind)."""
    wt = _widest((r[0] for r in rows), 10) + 1
    wi = _widest((r[1] for r in rows), 10) + 1
    wk = _widest((r[2] for r in rows), 10) + 1
    out = [f"{pad('Topic', wt)}{pad('ID', wi)}{pad('Kind', wk)}\n"]
    for topic, hid, kind in rows:
        out.append(f"{pad(topic, wt)}{pad(hid, wi)}{pad(kind, wk)}\n")
    return "".join(out)


# ---- show pages -------------------------------------------------------------------------------


def show_task(t: Task) -> str:
    out = [
        f"ID: {t.id}\n",
        f"Error: {t.error}\n",
        f"Template: {t.template_id}\n",
        f"Type: {t.type}\n",
        f"Status: {t.status}\n",
        f"Executing: {'true' if t.executing else 'false'}\n",
        f"Created: {rfc822_as_sent(t.created)}\n",
        f"Modified: {rfc822_as_sent(t.modified)}\n",
        f"LastEnabled: {rfc822_as_sent(t.last_enabled)}\n",
        f"Databases Retention Policies: {dbrps_text(t.dbrps)}\n",
        f"TICKscript:\n{t.script}\n",
    ]
    if t.vars:
        out.append("Vars:\n")
        out.append(f"{pad('Name', 30)}{pad('Type', 10)}{pad('Value', 40)}\n")
        for name in sorted(t.vars):
            var = t.vars[name]
            out.append(f"{pad(name, 30)}{pad(var.type, 10)}{pad(var_value(var), 40)}\n")
    out.append(f"DOT:\n{t.dot}\n")
    extra = (t.stats or {}).get("kapfast-node-stats") or {}
    counters = [(n, k, v) for n, c in sorted(extra.items()) for k, v in sorted(c.items()) if v]
    if counters:
        # kapfast's own node counters (events dropped, failures per alert handler kind, groups
        # expired), after Kapacitor's layout so tools reading it are not disturbed
        out.append("kapfast node stats:\n")
        out += [f"  {n}.{k}: {v}\n" for n, k, v in counters]
    return "".join(out)


def show_template(t: Template) -> str:
    out = [
        f"ID: {t.id}\n",
        f"Error: {t.error}\n",
        f"Type: {t.type}\n",
        f"Created: {rfc822_as_sent(t.created)}\n",
        f"Modified: {rfc822_as_sent(t.modified)}\n",
        f"TICKscript:\n{t.script}\n",
        "Vars:\n",
        f"{pad('Name', 30)}{pad('Type', 10)}{pad('Default Value', 40)}{pad('Description', 40)}\n",
    ]
    for name in sorted(t.vars or {}):
        var = (t.vars or {})[name]
        value = var_value(var, required="<required>")
        out.append(f"{pad(name, 30)}{pad(var.type, 10)}{pad(value, 40)}{pad(var.description, 40)}\n")
    out.append(f"DOT:\n{t.dot}\n")
    return "".join(out)


# ---- stats ------------------------------------------------------------------------------------


def _int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float) and math.isfinite(value):
        return int(value)
    return 0


def stats_general(debug_vars: Mapping[str, Any]) -> str:
    def s(label: str, key: str) -> str:
        value = debug_vars.get(key)
        return f"{pad(label, 30)}{pad('' if value is None else str(value), 30)}\n"

    def n(label: str, key: str) -> str:
        return f"{pad(label, 30)}{pad(str(_int(debug_vars.get(key))), 30)}\n"

    return "".join(
        [
            s("ClusterID:", "cluster_id"),
            s("ServerID:", "server_id"),
            s("Host:", "host"),
            n("Tasks:", "num_tasks"),
            n("Enabled Tasks:", "num_enabled_tasks"),
            n("Subscriptions:", "num_subscriptions"),
            s("Platform:", "platform"),
            s("Version:", "version"),
        ]
    )


def stats_ingress(debug_vars: Mapping[str, Any]) -> str:
    """Points received per (database, retention policy, measurement) by the main task master."""
    rows: list[tuple[str, str, str, int]] = []
    stats = debug_vars.get("kapacitor")
    for stat in (stats or {}).values() if isinstance(stats, Mapping) else ():
        if not isinstance(stat, Mapping) or stat.get("name") != "ingress":
            continue
        tags = stat.get("tags") or {}
        if tags.get("task_master") != "main":
            continue
        values = stat.get("values") or {}
        rows.append(
            (
                str(tags.get("database", "")),
                str(tags.get("retention_policy", "")),
                str(tags.get("measurement", "")),
                _int(values.get("points_received")),
            )
        )
    wdb = _widest((r[0] for r in rows), 8) + 1
    wrp = _widest((r[1] for r in rows), 16) + 1
    wm = _widest((r[2] for r in rows), 11) + 1
    out = [f"{pad('Database', wdb)}{pad('Retention Policy', wrp)}{pad('Measurement', wm)}Points Received\n"]
    for db, rp, m, points in sorted(rows, key=lambda r: (r[0], r[1], r[2])):
        out.append(f"{pad(db, wdb)}{pad(rp, wrp)}{pad(m, wm)}{points:>15}\n")
    return "".join(out)


def show_topic(topic: Topic, events: Sequence[TopicEvent], handler_ids: Sequence[str]) -> str:
    """``kapacitor show-topic``: the topic, its handlers and its events oldest first."""
    wevent = _widest((e.id for e in events), 5) + 1
    wmsg = _widest((e.state.message for e in events), 7) + 1

    def row(event: str, level: str, message: str, date: str) -> str:
        return f"{pad(event, wevent)}{pad(level, 9)}{pad(message, wmsg)}{pad(date, 23)}\n"

    def when(e: TopicEvent) -> _dt.datetime:
        try:
            return parse_time(e.state.time)[0]
        except ValueError:
            return _dt.datetime.min.replace(tzinfo=_dt.UTC)

    out = [
        f"ID: {topic.id}\n",
        f"Level: {topic.level}\n",
        f"Collected: {topic.collected}\n",
        f"Handlers: [{', '.join(handler_ids)}]\n",
        "Events:\n",
        row("Event", "Level", "Message", "Date"),
    ]
    for e in sorted(events, key=when):
        out.append(row(e.id, e.state.level, e.state.message, rfc822_local(e.state.time)))
    return "".join(out)


def show_topic_handler(topic: str, handler: TopicHandler) -> str:
    """``kapacitor show-topic-handler``: options as Go's ``json.Marshal`` writes them."""
    return (
        f"ID: {handler.id}\n"
        f"Topic: {topic}\n"
        f"Kind: {handler.kind}\n"
        f"Match: {handler.match}\n"
        f"Options: {json_encode(handler.options if handler.options is not None else {})}\n"
    )
