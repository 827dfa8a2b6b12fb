"""``kapfast list tasks|templates|recordings|replays|topics|topic-handlers|service-tests [ID or glob]...``,
printed in ``kapacitor list``'s column layout (see :mod:`kapfast.cli.render`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from kapfast.cli import render
from kapfast.cli.session import connect, usage_error
from kapfast.client import Client
from kapfast.errors import RequestError

NAME = "list"
HELP = "list tasks, templates, recordings, replays, topics, topic-handlers or service-tests"
CLIENT = True
DESCRIPTION = """List tasks, templates, recordings, replays, topics or topic handlers and their state.

Without an ID or pattern everything is listed. Topic handlers take a topic (or pattern) first:
  kapfast list topic-handlers [TOPIC] [HANDLER PATTERN]..."""
EPILOG = """examples:
  kapfast list tasks
  kapfast list tasks 'cpu_*'
  kapfast list recordings
  kapfast list topic-handlers system 'email*'"""

KINDS = ("tasks", "templates", "recordings", "replays", "topics", "topic-handlers", "service-tests")
_T = TypeVar("_T")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", nargs="?", metavar="KIND", help="|".join(KINDS))
    parser.add_argument("patterns", nargs="*", metavar="ID", help="IDs or glob patterns (default: all)")


def _unique(items: Iterable[_T], key: str = "id") -> Iterator[_T]:
    # Two patterns can match the same item; kapacitor prints it twice, we print it once.
    seen: set[str] = set()
    for item in items:
        ident = getattr(item, key)
        if ident not in seen:
            seen.add(ident)
            yield item


def render_list(client: Client, kind: str, patterns: list[str]) -> str:
    if kind == "tasks":
        fields = ("type", "status", "executing", "dbrps")
        return render.tasks_table(
            list(_unique(t for p in patterns for t in client.iter_tasks(p, fields=fields)))
        )
    if kind == "templates":
        return render.templates_table(
            list(_unique(t for p in patterns for t in client.iter_templates(p, fields=("type", "vars"))))
        )
    if kind == "recordings":
        rec_fields = ("type", "size", "date", "status")
        return render.recordings_table(
            list(_unique(r for p in patterns for r in client.iter_recordings(p, fields=rec_fields)))
        )
    if kind == "replays":
        replay_fields = ("task", "recording", "status", "clock", "date")
        return render.replays_table(
            list(_unique(r for p in patterns for r in client.iter_replays(p, fields=replay_fields)))
        )
    if kind == "topics":
        return render.topics_table(list(_unique(t for p in patterns for t in client.list_topics(p))))
    if kind == "topic-handlers":
        rows: list[tuple[str, str, str]] = []
        handler_patterns = patterns[1:] or [""]
        for topic in client.list_topics(patterns[0]):
            seen: set[str] = set()
            for pattern in handler_patterns:
                for h in client.list_topic_handlers(topic.id, pattern):
                    if h.id not in seen:
                        seen.add(h.id)
                        rows.append((topic.id, h.id, h.kind))
        return render.topic_handlers_table(rows)
    if kind == "service-tests":
        # kapacitor: "%-20s\n" under a "Service" header
        names = list(_unique((s for p in patterns for s in client.list_service_tests(p)), key="name"))
        return "".join(f"{n:<20}\n" for n in ["Service", *(s.name for s in names)])
    raise _unknown(kind)


def _unknown(kind: str) -> RequestError:
    return RequestError(
        f"cannot list '{kind}' did you mean 'tasks', 'templates', 'recordings', 'replays', 'topics', "
        "'topic-handlers' or 'service-tests'?"
    )


def run(args: argparse.Namespace) -> int:
    if not args.kind:
        return usage_error(
            args, "Must specify 'tasks', 'recordings', 'replays', 'topics', or 'topic-handlers'"
        )
    if args.kind not in KINDS:
        raise _unknown(args.kind)
    with connect(args) as client:
        sys.stdout.write(render_list(client, args.kind, args.patterns or [""]))
    return 0
