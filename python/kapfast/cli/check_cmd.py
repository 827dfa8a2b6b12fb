"""``kapfast check SCRIPT``: compile a TICKscript offline, as a CI step would.

Valid: exit 0, print the task type and the pipeline as DOT. Invalid: exit 1 and print
``SCRIPT:LINE:COL: message`` and the offending line with a caret on stderr. Scripts that compile
but cannot work as written (kapfast.tick.lint) get ``SCRIPT:LINE:COL: warning: ...`` lines on
stderr; ``--strict`` makes them exit 1 too. With ``-config FILE`` (kapfastd's config file) the
``[udf.functions.*]`` agents are started for their Info, so ``@name().option(...)`` is checked
against each UDF's options and edge types, as kapfastd checks it at define time.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from kapfast.errors import ConfigError, TickScriptError
from kapfast.gofmt import duration_string
from kapfast.tick import compile_script, compile_template
from kapfast.tick.lint import lint
from kapfast.udf.service import from_config_file

NAME = "check"
HELP = "check a TICKscript offline: print its task type and DOT, or its errors with line:column"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("script", help="the TICKscript file ('-' reads stdin)")
    parser.add_argument(
        "--vars",
        "-vars",
        metavar="FILE",
        help='template vars as JSON: {"name": {"type": "float", "value": 1.0}}',
    )
    parser.add_argument(
        "--type", "-type", choices=("stream", "batch"), help="task type when the script cannot tell"
    )
    parser.add_argument(
        "--template",
        "-template",
        action="store_true",
        help="check a template: typed vars may lack values; prints the vars it declares",
    )
    parser.add_argument(
        "--config",
        "-config",
        metavar="FILE",
        help="kapfastd's config file: @udf() nodes are checked against its [udf.functions.*] agents",
    )
    parser.add_argument(
        "--strict",
        "-strict",
        action="store_true",
        help="exit 1 when there are warnings (a string where a field was meant, a field an "
        "aggregate no longer carries, an alert whose events go nowhere, ...)",
    )


class _NotUTF8(Exception):
    """A script file that is not UTF-8, located like a compile error."""


def _read(path: str, name: str) -> str:
    raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        column = len(before[before.rfind(b"\n") + 1 :].decode("utf-8-sig", errors="replace")) + 1
        raise _NotUTF8(
            f"{name}:{line}:{column}: invalid UTF-8 (byte 0x{raw[exc.start]:02X}): a TICKscript is UTF-8 text"
        ) from None


def run(args: argparse.Namespace) -> int:
    name = "<stdin>" if args.script == "-" else args.script
    try:
        text = _read(args.script, name)
    except OSError as exc:
        print(f"{name}: cannot read: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except _NotUTF8 as exc:
        print(exc, file=sys.stderr)
        return 1
    variables = None
    if args.vars:
        try:
            variables = json.loads(Path(args.vars).read_text(encoding="utf-8-sig"))
        except (OSError, ValueError) as exc:
            print(f"{args.vars}: cannot read vars: {exc}", file=sys.stderr)
            return 2
        if not isinstance(variables, dict):
            print(f"{args.vars}: vars must be a JSON object", file=sys.stderr)
            return 2
    udfs = None
    if args.config:
        try:
            udfs = from_config_file(args.config).infos
        except (ConfigError, OSError) as exc:
            print(f"{args.config}: {exc}", file=sys.stderr)
            return 2
    try:
        if args.template:
            pipeline = compile_template(text, source=name, udfs=udfs)
        else:
            pipeline = compile_script(text, vars=variables, task_type=args.type, source=name, udfs=udfs)
    except TickScriptError as exc:
        print(str(exc), file=sys.stderr)
        if exc.excerpt:
            print(exc.excerpt, file=sys.stderr)
        return 1
    if args.type and args.type != pipeline.task_type:
        # Kapacitor derives the type from the script's source node and ignores the flag
        print(
            f"note: the script is a {pipeline.task_type} task; --type {args.type} does not apply",
            file=sys.stderr,
        )
    warnings = lint(pipeline)
    for w in warnings:
        print(w.format(name), file=sys.stderr)
    task = Path(name).stem if args.script != "-" else "task"
    print(f"Type: {pipeline.task_type}")
    if pipeline.dbrps:
        print("Databases Retention Policies: [" + " ".join(f'"{d}"."{r}"' for d, r in pipeline.dbrps) + "]")
    if args.template and pipeline.vars:
        print("Vars:")
        print(f"{'Name':<30}{'Type':<10}Value")
        for var, info in pipeline.vars.items():
            print(f"{var:<30}{info['type']:<10}{_show(info['type'], info['value'])}".rstrip())
    print("DOT:")
    print(pipeline.to_dot(task))
    return 1 if warnings and args.strict else 0


def _show(typ: str, value: object) -> str:
    """A var's value as `kapacitor show` prints it (durations as Go spells them, lists as [a, b])."""
    if value is None:
        return ""
    if typ == "duration" and isinstance(value, int):
        return duration_string(value)
    if typ == "list" and isinstance(value, list):
        items = [
            "*" if isinstance(v, dict) and v.get("type") == "star" else str(v.get("value", v)) for v in value
        ]
        return "[" + ", ".join(items) + "]"
    return str(value)
