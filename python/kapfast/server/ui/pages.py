"""The pages' HTML, built from the same JSON bodies the API answers (so the page and the API never
disagree). Every value is escaped here; the page script reads ``data-*`` attributes only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from kapfast import __version__
from kapfast.server.ui.graph import GraphNode, render_svg
from kapfast.server.ui.highlight import highlight

T = TypeVar("T")
STATIC = "/ui/static"
_NAV = (("/ui/", "Tasks"), ("/ui/topics", "Alert topics"), ("/ui/recordings", "Recordings & replays"))


def layout(title: str, body: str, *, active: str, script: str = "") -> str:
    nav = "".join(
        f'<a href="{href}"{" class=active" if href == active else ""}>{label}</a>' for href, label in _NAV
    )
    js = f'<script src="{STATIC}/ui.js" defer></script>' if script else ""
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{escape(title)} · kapfast</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">'
        f'<link rel="stylesheet" href="{STATIC}/ui.css">{js}</head>'
        f'<body data-page="{escape(script)}"><header><span class="brand">kapfast</span>{nav}'
        f'<span class="version">{escape(__version__)}</span></header>'
        f"<main>{body}</main></body></html>"
    )


@dataclass(frozen=True)
class Page:
    """Which rows of a list a page shows: from ``offset`` (the query parameter ``key``), at most
    ``limit``; ``path`` and ``query`` make the links to the pages before and after."""

    path: str
    query: Mapping[str, str]
    key: str
    offset: int
    limit: int

    def first(self, fetched: Sequence[T]) -> tuple[Sequence[T], bool]:
        """The rows to show of ``fetched`` (read from ``offset``, one more than ``limit``), and
        whether a next page exists."""
        return fetched[: self.limit], len(fetched) > self.limit

    def cut(self, rows: Sequence[T]) -> tuple[Sequence[T], bool]:
        """This page's rows of a whole list, and whether a next page exists."""
        return rows[self.offset : self.offset + self.limit], len(rows) > self.offset + self.limit

    def href(self, offset: int) -> str:
        query = {**self.query, self.key: str(offset)}
        if offset == 0:
            del query[self.key]
        return self.path + (f"?{urlencode(query)}" if query else "")

    def nav(self, shown: int, more: bool, total: int | None = None, *, list_id: str) -> str:
        """ "Rows a–b [of n]" and the links to the pages before and after (none when the whole
        list fits one page)."""
        if self.offset == 0 and not more:
            return ""
        span = f"{self.offset + 1}–{self.offset + shown}" if shown else "none"
        of = f" of {total}" if total is not None else ""
        links = []
        if self.offset > 0:
            prev = self.href(max(0, self.offset - self.limit))
            links.append(f'<a rel="prev" class="prev" href="{escape(prev)}">‹ Previous</a>')
        if more:
            links.append(
                f'<a rel="next" class="next" href="{escape(self.href(self.offset + shown))}">Next ›</a>'
            )
        return (
            f'<nav class="pager" data-list="{escape(list_id)}"><span class="span">Rows {span}{of}</span>'
            + "".join(links)
            + "</nav>"
        )


def _task_href(task_id: str) -> str:
    return "/ui/tasks/" + quote(task_id, safe="")


def _errors(task: Mapping[str, Any]) -> int:
    nodes = (task.get("stats") or {}).get("node-stats") or {}
    return sum(int(s.get("errors", 0)) for s in nodes.values())


def _throughput(task: Mapping[str, Any]) -> str:
    stats = (task.get("stats") or {}).get("task-stats") or {}
    return f"{float(stats.get('throughput', 0.0)):.1f}" if task.get("executing") else "—"


def tasks_page(fetched: Sequence[Mapping[str, Any]], page: Page) -> str:
    tasks, more = page.first(fetched)
    rows = "".join(
        f'<tr data-task="{escape(t["id"])}"><td><a href="{_task_href(t["id"])}">{escape(t["id"])}</a></td>'
        f"<td>{escape(t['type'])}</td>"
        f'<td class="status {escape(t["status"])}" data-field="status">{escape(t["status"])}</td>'
        f'<td data-field="executing">{"yes" if t["executing"] else "no"}</td>'
        f'<td class="num" data-field="throughput">{_throughput(t)}</td>'
        f'<td class="num" data-field="errors">{_errors(t)}</td>'
        f'<td class="error" data-field="error">{escape(t["error"])}</td></tr>'
        for t in tasks
    )
    if not tasks:
        empty = "No tasks on this page." if page.offset else "No tasks defined."
        rows = f'<tr><td colspan="7" class="empty">{empty}</td></tr>'
    nav = page.nav(len(tasks), more, list_id="tasks")
    body = (
        "<h1>Tasks</h1>"
        f'<table class="list" id="tasks" data-offset="{page.offset}" data-limit="{page.limit}">'
        "<thead><tr><th>ID</th><th>Type</th><th>Status</th>"
        "<th>Executing</th><th>Throughput (points/s)</th><th>Errors</th><th>Last error</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>{nav}"
    )
    return layout("Tasks", body, active="/ui/", script="tasks")


def stats_table(node_stats: Mapping[str, Mapping[str, Any]], extra: Mapping[str, Mapping[str, Any]]) -> str:
    """Every statistic of every node (Kapacitor's and kapfast's own), one row a node."""
    rows = []
    for name, values in node_stats.items():
        merged = {**values, **extra.get(name, {})}
        cells = ", ".join(f"{escape(k)}={escape(str(v))}" for k, v in sorted(merged.items()))
        rows.append(f"<tr><td>{escape(name)}</td><td>{cells}</td></tr>")
    if not rows:
        rows.append('<tr><td colspan="2" class="empty">The task is not executing.</td></tr>')
    return "".join(rows)


def task_page(task: Mapping[str, Any], raw_script: str, graph: Sequence[GraphNode]) -> str:
    tid, status = task["id"], escape(task["status"])
    stats = task.get("stats") or {}
    node_stats = stats.get("node-stats") or {}
    extra = stats.get("kapfast-node-stats") or {}
    dbrps = ", ".join(f"{d['db']}.{d['rp']}" for d in task.get("dbrps", []))
    merged = {name: {**values, **extra.get(name, {})} for name, values in node_stats.items()}
    svg = render_svg(graph, merged) if graph else '<p class="empty">The script does not compile.</p>'
    body = (
        f'<section id="task" data-task="{escape(tid)}" data-api="/kapacitor/v1/tasks/{quote(tid, safe="")}">'
        f"<h1>{escape(tid)}</h1>"
        '<dl class="facts">'
        f"<dt>Type</dt><dd>{escape(task['type'])}</dd>"
        f'<dt>Status</dt><dd id="status" class="status {status}">{status}</dd>'
        f'<dt>Executing</dt><dd id="executing">{"yes" if task["executing"] else "no"}</dd>'
        f'<dt>Throughput</dt><dd id="throughput">{_throughput(task)} points/s</dd>'
        f"<dt>DBRPs</dt><dd>{escape(dbrps)}</dd>"
        f'<dt>Error</dt><dd id="error" class="error">{escape(task.get("error", ""))}</dd>'
        "</dl>"
        '<div class="buttons">'
        '<button id="enable" type="button">Enable</button>'
        '<button id="disable" type="button">Disable</button>'
        '<button id="reload" type="button">Reload</button>'
        '<span id="action-result" role="status"></span></div>'
        f'<h2>Pipeline</h2><div id="graph">{svg}</div>'
        '<table class="list" id="node-stats"><thead><tr><th>Node</th><th>Statistics</th></tr></thead>'
        f"<tbody>{stats_table(node_stats, extra)}</tbody></table>"
        '<section id="explain" hidden><h2>Why did it (not) alert?</h2><div id="explain-body"></div></section>'
        f'<h2>TICKscript</h2><pre class="tick">{highlight(raw_script)}</pre>'
        "</section>"
    )
    return layout(tid, body, active="/ui/", script="task")


def _level(level: str) -> str:
    return f'<span class="level {escape(level)}">{escape(level)}</span>'


def topics_page(every: Sequence[Mapping[str, Any]], page: Page) -> str:
    topics, more = page.cut(every)
    rows = "".join(
        f'<tr><td><a href="/ui/topics/{quote(t["id"], safe="")}">{escape(t["id"])}</a></td>'
        f'<td>{_level(t["level"])}</td><td class="num">{t["collected"]}</td></tr>'
        for t in topics
    )
    rows = rows or '<tr><td colspan="3" class="empty">No alert topics yet.</td></tr>'
    body = (
        '<h1>Alert topics</h1><table class="list" id="topics"><thead><tr><th>Topic</th><th>Level</th>'
        f"<th>Events collected</th></tr></thead><tbody>{rows}</tbody></table>"
        + page.nav(len(topics), more, len(every), list_id="topics")
    )
    return layout("Alert topics", body, active="/ui/topics", script="refresh")


def topic_page(topic: Mapping[str, Any], events: Sequence[Mapping[str, Any]], page: Page) -> str:
    every = sorted(events, key=lambda e: e["state"]["time"], reverse=True)
    recent, more = page.cut(every)
    rows = "".join(
        f"<tr><td>{escape(e['id'])}</td><td>{_level(e['state']['level'])}</td>"
        f"<td>{escape(e['state']['time'])}</td><td>{escape(e['state']['duration'])}</td>"
        f"<td>{escape(e['state']['message'])}</td></tr>"
        for e in recent
    )
    rows = rows or '<tr><td colspan="5" class="empty">No events.</td></tr>'
    body = (
        f"<h1>Topic {escape(topic['id'])}</h1>"
        f"<p>Level {_level(topic['level'])} · {topic['collected']} events collected since the start</p>"
        '<table class="list" id="events"><thead><tr><th>Event</th><th>Level</th><th>Time</th>'
        f"<th>Duration</th><th>Message</th></tr></thead><tbody>{rows}</tbody></table>"
        + page.nav(len(recent), more, len(every), list_id="events")
    )
    return layout(f"Topic {topic['id']}", body, active="/ui/topics", script="refresh")


def _progress(p: float, status: str) -> str:
    pct = 100.0 if status == "finished" else max(0.0, min(float(p), 1.0)) * 100
    return f'<progress max="100" value="{pct:.0f}"></progress> {pct:.0f}%'


def recordings_page(
    fetched_recordings: Sequence[Mapping[str, Any]],
    fetched_replays: Sequence[Mapping[str, Any]],
    rec_page: Page,
    rep_page: Page,
) -> str:
    recordings, more_recordings = rec_page.first(fetched_recordings)
    replays, more_replays = rep_page.first(fetched_replays)
    rec_rows = (
        "".join(
            f"<tr><td>{escape(r['id'])}</td><td>{escape(r['type'])}</td>"
            f'<td class="status {escape(r["status"])}">{escape(r["status"])}</td>'
            f"<td>{_progress(r['progress'], r['status'])}</td><td class=num>{r['size']}</td>"
            f'<td>{escape(r["date"])}</td><td class="error">{escape(r["error"])}</td></tr>'
            for r in recordings
        )
        or '<tr><td colspan="7" class="empty">No recordings.</td></tr>'
    )
    rep_rows = (
        "".join(
            f"<tr><td>{escape(r['id'])}</td>"
            f'<td><a href="{_task_href(r["task"])}">{escape(r["task"])}</a></td>'
            f"<td>{escape(r['recording'])}</td><td>{escape(r['clock'])}</td>"
            f'<td class="status {escape(r["status"])}">{escape(r["status"])}</td>'
            f"<td>{_progress(r['progress'], r['status'])}</td>"
            f'<td>{escape(r["date"])}</td><td class="error">{escape(r["error"])}</td></tr>'
            for r in replays
        )
        or '<tr><td colspan="8" class="empty">No replays.</td></tr>'
    )
    body = (
        '<h1>Recordings</h1><table class="list" id="recordings"><thead><tr><th>ID</th><th>Type</th>'
        "<th>Status</th><th>Progress</th><th>Size (bytes)</th><th>Date</th><th>Error</th></tr></thead>"
        f"<tbody>{rec_rows}</tbody></table>"
        + rec_page.nav(len(recordings), more_recordings, list_id="recordings")
        + '<h1>Replays</h1><table class="list" id="replays"><thead><tr><th>ID</th><th>Task</th>'
        "<th>Recording</th><th>Clock</th><th>Status</th><th>Progress</th><th>Date</th><th>Error</th>"
        f"</tr></thead><tbody>{rep_rows}</tbody></table>"
        + rep_page.nav(len(replays), more_replays, list_id="replays")
    )
    return layout("Recordings", body, active="/ui/recordings", script="refresh")


def not_found(what: str) -> str:
    return layout("Not found", f'<h1>Not found</h1><p class="error">{escape(what)}</p>', active="")


def bad_request(what: str) -> str:
    return layout("Bad request", f'<h1>Bad request</h1><p class="error">{escape(what)}</p>', active="")
