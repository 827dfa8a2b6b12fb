"""Dispatch ``kapfast [-url URL] VERB ...`` to the module that implements the verb.

The global options come before the verb, as with ``kapacitor``: ``-url`` (else ``$KAPFAST_URL``,
else ``$KAPACITOR_URL``, else ``http://localhost:9092``) and ``-skipVerify``. Exit statuses follow
``kapacitor``: 1 for a missing or unknown command, 2 for bad usage of a verb, 3 when a client
command fails (``Error: <message>`` on stderr), 4 when the server URL is unusable.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from collections.abc import Sequence
from types import ModuleType

from kapfast.client import InvalidURLError
from kapfast.errors import KapfastError

# Verb modules in the order `kapfast help` lists them. A verb module defines NAME, HELP,
# add_arguments(parser) and run(args) -> exit status; client verbs (those that talk to the
# server) also set CLIENT = True. A verb's module is kapfast.cli.<verb with _ for ->_cmd.
VERBS: tuple[str, ...] = (
    "record",
    "define",
    "define-template",
    "define-topic-handler",
    "replay",
    "replay-live",
    "enable",
    "disable",
    "reload",
    "delete",
    "list",
    "show",
    "show-template",
    "show-topic",
    "show-topic-handler",
    "level",
    "stats",
    "explain",
    "vars",
    "backup",
    "watch",
    "logs",
    "tap",
    "service-tests",
    "version",
    "check",
    "fmt",
    "test",
    "cluster",
)


def _module_name(verb: str) -> str:
    return f"kapfast.cli.{verb.replace('-', '_')}_cmd"


def _load(verb: str) -> ModuleType | None:
    name = _module_name(verb)
    # A verb whose module is not part of this build (another team's verb not merged yet) is
    # left out of the command line rather than breaking every other verb.
    if importlib.util.find_spec(name) is None:
        return None
    return importlib.import_module(name)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line, or with ``only`` just that verb (loading one module starts faster)."""
    parser = argparse.ArgumentParser(
        prog="kapfast",
        usage="kapfast [-url URL] [-skipVerify] COMMAND [args]",
        description="kapfast: a drop-in, faster Kapacitor. Kapacitor's client verbs, and offline tools.",
        epilog="Use 'kapfast help COMMAND' for the options of a command.",
    )
    parser.add_argument(
        "-url",
        "--url",
        dest="url",
        metavar="URL",
        help="the kapfastd (or kapacitord) server, http(s)://host:port. "
        "Defaults to $KAPFAST_URL, then $KAPACITOR_URL, then http://localhost:9092",
    )
    parser.add_argument(
        "-skipVerify",
        "--skipVerify",
        "--skip-verify",
        dest="skip_verify",
        action="store_true",
        help="do not verify the server's TLS certificate (insecure); default $KAPACITOR_UNSAFE_SSL",
    )
    sub = parser.add_subparsers(dest="verb", metavar="COMMAND")
    sub.add_parser("help", help="show help for a command").add_argument(
        "topic", nargs="?", help="the command to explain"
    )
    for verb in VERBS if only is None else (only,):
        mod = _load(verb)
        if mod is None:
            continue
        client_verb = bool(getattr(mod, "CLIENT", False))
        p = sub.add_parser(
            mod.NAME,
            prog=f"kapfast {mod.NAME}",
            help=mod.HELP,
            description=getattr(mod, "DESCRIPTION", mod.HELP),
            epilog=getattr(mod, "EPILOG", None),
            formatter_class=argparse.RawDescriptionHelpFormatter,
            # kapacitor's flags never abbreviate; `-t` must not silently mean `-tick`.
            allow_abbrev=not client_verb,
        )
        if client_verb:
            p.add_argument("-help", action="help", help=argparse.SUPPRESS)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run, _client=client_verb, _verb_parser=p)
    return parser


def _split_globals(argv: list[str]) -> tuple[list[str], list[str]]:
    """The leading global options, and the command with its arguments."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            return argv[:i], argv[i + 1 :]
        if not arg.startswith("-") or arg == "-":
            break
        name = arg.split("=", 1)[0]
        if name in ("-url", "--url") and "=" not in arg:
            i += 2
        else:
            i += 1
    return argv[:i], argv[i:]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    global_args, rest = _split_globals(argv)
    if not rest:
        parser = build_parser()
        if any(a in ("-h", "--help", "-help") for a in global_args):
            parser.print_help()
            return 0
        print("Error: Must pass a command.", file=sys.stderr)
        parser.print_usage(sys.stderr)
        return 1
    verb = rest[0]
    if verb == "help":
        parser = build_parser()
        return _help(parser, _verbs(parser), rest[1:])
    if verb not in VERBS or _load(verb) is None:
        parser = build_parser()
        _unknown(verb, parser)
        return 1
    args = build_parser(only=verb).parse_args([*global_args, *rest])
    try:
        status: int = args._run(args)
        sys.stdout.flush()
    except InvalidURLError as exc:
        print(str(exc), file=sys.stderr)
        return 4
    except KapfastError as exc:
        if getattr(args, "_client", False):
            print(f"Error: {exc}", file=sys.stderr)
            return 3
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `kapfast ... | head`: the reader went away; stop quietly like other Unix tools.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    return status


def _verbs(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _unknown(verb: str, parser: argparse.ArgumentParser) -> None:
    # kapacitor's "Unknown command X", and the commands there are
    known = ", ".join(v for v in _verbs(parser) if v != "help")
    print(f"Unknown command {verb}: invalid choice, choose from {known}", file=sys.stderr)
    parser.print_usage(sys.stderr)


def _help(
    parser: argparse.ArgumentParser, choices: dict[str, argparse.ArgumentParser], topics: list[str]
) -> int:
    if not topics:
        parser.print_help()
        return 0
    topic = topics[0]
    if topic not in choices:
        _unknown(topic, parser)
        return 1
    choices[topic].print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
