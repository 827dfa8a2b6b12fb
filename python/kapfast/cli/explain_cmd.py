"""``kapfast explain TASK [-at TIME -recording ID] [-node NAME] [-json]``: why each group of the
task's alert nodes is at its level, which expression decided it, and why no event was sent
(kapfast only; ``GET /kapacitor/v1/tasks/<id>/explain``, docs/operations.md)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from kapfast.cli.session import connect, flag, usage_error

NAME = "explain"
HELP = "explain why a task's alerts are (not) firing"
CLIENT = True
DESCRIPTION = """For each alert node of the task and each of its groups: the values its level
lambdas saw at the last point, each level expression's result, the one that decided the level,
and whether an event was sent - or why not (stateChangesOnly, flapping, inhibited, no handler,
handler failed, noRecoveries).

With -at TIME (RFC3339) and -recording ID: as of TIME, by replaying the recording (its recorded
times) into an offline copy of the task, handlers not called."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    flag(parser, "at", metavar="TIME", default="", help="explain as of this RFC3339 time (needs -recording)")
    flag(parser, "recording", metavar="ID", default="", help="the recording replayed for -at")
    flag(parser, "node", metavar="NAME", default="", help="only this alert node")
    flag(parser, "json", action="store_true", default=False, help="print the server's JSON answer")
    parser.add_argument("ids", nargs="*", metavar="TASK_ID", help="the task ID")


def run(args: argparse.Namespace) -> int:
    if len(args.ids) != 1:
        return usage_error(args, "Must specify one task ID")
    if args.at and not args.recording:
        return usage_error(args, "-at needs -recording: explain replays a recording up to TIME")
    with connect(args) as client:
        body = client.explain(args.ids[0], node=args.node, at=args.at, recording=args.recording)
    if args.json:
        sys.stdout.write(json.dumps(body, indent=2) + "\n")
    else:
        sys.stdout.write(render(body))
    return 0


def _value(v: Any) -> str:
    return json.dumps(v) if isinstance(v, str) else str(v)


def _group(g: dict[str, Any]) -> list[str]:
    head = f"  group {g['group']}  at {g['time']}: {g['previous_level']} -> {g['level']}"
    lines = [head]
    values = ", ".join(f"{k}={_value(v)}" for k, v in g.get("values", {}).items())
    lines.append(f"    values:   {values or '-'}")
    exprs = g.get("expressions") or []
    if exprs:
        width = max(len(f"{e['level']} {e.get('kind', 'level')}") for e in exprs)
        for e in exprs:
            label = f"{e['level']} {e.get('kind', 'level')}".ljust(width)
            result = f"error: {e['error']}" if e.get("error") else str(e.get("result")).lower()
            mark = "  <- decided" if _decides(g, e) else ""
            lines.append(f"    {label}  {e['expression']}  => {result}{mark}")
    if g.get("sent"):
        lines.append("    sent:     yes")
    else:
        lines.append(f"    sent:     no ({g.get('reason')}): {g.get('reason_text') or ''}".rstrip())
    return lines


def _decides(g: dict[str, Any], e: dict[str, Any]) -> bool:
    d = g.get("deciding")
    return isinstance(d, dict) and d.get("level") == e["level"] and d.get("expression") == e["expression"]


def render(body: dict[str, Any]) -> str:
    """The explanation as text, one block per alert node and group."""
    at = f" at {body['at']}" if body.get("at") else ""
    out = [f"Task {body['task']}{at}"]
    nodes = body.get("nodes") or []
    if not nodes:
        out.append("  (no alert node)")
    for n in nodes:
        out.append(f"alert node {n['node']}:")
        groups = n.get("groups") or []
        if not groups:
            out.append("  (no point seen yet)")
        for g in groups:
            out.extend(_group(g))
    return "\n".join(out) + "\n"
