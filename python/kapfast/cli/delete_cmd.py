"""``kapfast delete tasks|templates|recordings|replays|topics|topic-handlers <ID or glob>...``
(``kapacitor delete``). Topic handlers take the topic first: ``delete topic-handlers TOPIC GLOB...``.

Deleting is idempotent, as with kapacitor: a pattern that matches nothing is not an error.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable, Sequence

from kapfast.cli.session import connect, usage_error
from kapfast.client import PAGE_SIZE, Client, ServerError
from kapfast.errors import RequestError

NAME = "delete"
HELP = "delete tasks, templates, recordings, replays, topics or topic-handlers"
CLIENT = True
DESCRIPTION = """Delete tasks, templates, recordings, replays, topics or topic handlers.

An enabled task is disabled, then deleted. Deleting a topic handler needs its topic first."""
EPILOG = """examples:
  kapfast delete tasks my_task
  kapfast delete tasks '*_alert'
  kapfast delete recordings b0a2ba8a-aeeb-45ec-bef9-1a2939963586
  kapfast delete topic-handlers system slack"""

KINDS = ("tasks", "templates", "recordings", "replays", "topics", "topic-handlers")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", nargs="?", metavar="KIND", help="|".join(KINDS))
    parser.add_argument("ids", nargs="*", metavar="ID", help="IDs or glob patterns")


def _drain(list_page: Callable[[], Sequence[str]], delete: Callable[[str], None]) -> None:
    """Delete what the first page lists until a page comes back short.

    Deleting shifts the listing, so the first page is asked for again each round; a page that
    repeats only IDs already deleted means the server kept them, which would loop forever.
    """
    deleted: set[str] = set()
    while True:
        ids = list_page()
        fresh = [i for i in ids if i not in deleted]
        if ids and not fresh:
            raise ServerError(f"the server still lists {ids[0]!r} after deleting it")
        for item in fresh:
            delete(item)
            deleted.add(item)
        if len(ids) != PAGE_SIZE:
            return


def run(args: argparse.Namespace) -> int:
    if not args.kind or not args.ids:
        return usage_error(args, "Must pass at least one ID")
    kind = args.kind
    if kind not in KINDS:
        raise RequestError(
            f"cannot delete '{kind}' did you mean 'tasks', 'templates', 'recordings', 'replays', "
            "'topics' or 'topic-handlers'?"
        )
    with connect(args) as client:
        _delete(client, kind, args.ids)
    return 0


def _delete(client: Client, kind: str, patterns: list[str]) -> None:
    if kind == "topic-handlers":
        topic = patterns[0]
        for pattern in patterns[1:]:
            for handler in client.list_topic_handlers(topic, pattern):
                client.delete_topic_handler(topic, handler.id)
        return
    if kind == "topics":
        for pattern in patterns:
            for t in client.list_topics(pattern):
                client.delete_topic(t.id)
        return
    lister, deleter = _collections(client)[kind]
    for pattern in patterns:
        _drain(functools.partial(lister, pattern), deleter)


def _collections(
    client: Client,
) -> dict[str, tuple[Callable[[str], list[str]], Callable[[str], None]]]:
    """For each kind: list the IDs on the first page matching a pattern, and delete one ID."""
    link = ("link",)
    return {
        "tasks": (lambda p: [t.id for t in client.list_tasks(p, fields=link)], client.delete_task),
        "templates": (
            lambda p: [t.id for t in client.list_templates(p, fields=link)],
            client.delete_template,
        ),
        "recordings": (
            lambda p: [r.id for r in client.list_recordings(p, fields=link)],
            client.delete_recording,
        ),
        "replays": (lambda p: [r.id for r in client.list_replays(p, fields=link)], client.delete_replay),
    }
