"""``kapfast define <task ID> [-tick FILE] [-type stream|batch] [-dbrp db.rp]... [-template ID]
[-vars FILE] [-file FILE] [-no-reload]``: create or update a task, as ``kapacitor define`` does.

The task is fetched first. A new task is created disabled with what was given; an existing one
is PATCHed with only the options given (``-dbrp`` replaces all dbrps). If the task was enabled it
is then reloaded (disabled and enabled) unless ``-no-reload``. Old guides' ``define -name ID`` works.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml

from kapfast.cli.session import EXIT_USAGE, connect, flag, usage_error
from kapfast.client import DBRP, Var
from kapfast.errors import NotFoundError, RequestError

NAME = "define"
HELP = "create or update a task"
CLIENT = True
DESCRIPTION = """Create or update a task.

A task is defined by a TICKscript. Options left out keep their current value; if the task is
enabled it is reloaded unless -no-reload is given."""
EPILOG = """examples:
  kapfast define my_task -tick path/to/TICKscript -type stream -dbrp mydb.myrp
  kapfast define my_task -tick path/to/TICKscript          (change only the script)
  kapfast define my_task -dbrp mydb.myrp -dbrp otherdb.default
  kapfast define my_task -template my_template -vars vars.json -dbrp mydb.myrp

NOTE: give every -dbrp you want: they replace the task's dbrps as a whole."""


def parse_dbrp(value: str) -> DBRP:
    """``db.rp`` or ``"db"."rp"`` (quotes optional, ``\\"`` escapes a quote inside quotes)."""
    if not value:
        raise argparse.ArgumentTypeError("dbrp cannot be empty")
    if value[0] == '"':
        db, n = _quoted(value)
    else:
        n = value.find(".")
        if n == -1:
            raise argparse.ArgumentTypeError(
                f'{value!r} does not contain a \'.\', it must be in the form "dbname"."rpname" '
                "where the quotes are optional."
            )
        db = value[:n]
    if n >= len(value) or value[n] != ".":
        raise argparse.ArgumentTypeError(
            f"{value!r}: dbrp must specify retention policy, do you have a missing or extra '.'?"
        )
    rest = value[n + 1 :]
    if not rest:
        raise argparse.ArgumentTypeError(f"{value!r}: the retention policy is empty")
    rp = _quoted(rest)[0] if rest[0] == '"' else rest
    if not db or not rp:
        raise argparse.ArgumentTypeError(f"{value!r}: database and retention policy must not be empty")
    return DBRP(db, rp)


def _quoted(text: str) -> tuple[str, int]:
    """The quoted string at the start of ``text`` and the index just past its closing quote."""
    out: list[str] = []
    i = 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] == '"':
            out.append('"')
            i += 2
            continue
        if ch == '"':
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise argparse.ArgumentTypeError(f"{text!r}: missing closing quote")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", nargs="?", metavar="TASK_ID", help="the task ID")
    flag(parser, "name", help=argparse.SUPPRESS)  # `define -name ID` from Kapacitor 0.x guides
    flag(parser, "tick", metavar="FILE", help="path to the TICKscript")
    flag(parser, "type", choices=("stream", "batch"), help="the task type (stream|batch)")
    flag(
        parser,
        "dbrp",
        action="append",
        type=parse_dbrp,
        metavar="DB.RP",
        help='a database and retention policy pair "db"."rp" (quotes optional); repeatable',
    )
    flag(parser, "template", "template-id", metavar="ID", help="the template to create the task from")
    flag(parser, "vars", metavar="FILE", help="path to a JSON file of template vars")
    flag(
        parser,
        "file",
        metavar="FILE",
        help="a YAML or JSON task file (template-id, dbrps, vars); its id must match the task ID",
    )
    flag(parser, "no-reload", action="store_true", help="do not reload the task even if it is enabled")


def read_vars(path: str) -> dict[str, Var]:
    """A JSON vars file: ``{"name": {"type": "float", "value": 1.0}, ...}``."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise RequestError(f"failed to open file {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise RequestError(f"invalid JSON in file {path}: {exc}") from None
    return vars_from_json(doc, path)


def vars_from_json(doc: Any, where: str) -> dict[str, Var]:
    if not isinstance(doc, dict):
        raise RequestError(f"invalid vars in {where}: expected an object of name -> {{type, value}}")
    out: dict[str, Var] = {}
    for name, spec in doc.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
            raise RequestError(f'invalid var {name!r} in {where}: expected {{"type": ..., "value": ...}}')
        out[name] = Var(spec["type"], spec.get("value"), str(spec.get("description") or ""))
    return out


def _read_task_file(path: str) -> dict[str, Any]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise RequestError(f"failed to open file {path}: {exc.strerror or exc}") from None
    if p.suffix in (".yaml", ".yml"):
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise RequestError(f"failed to unmarshal yaml task vars file {path!r}: {exc}") from None
    elif p.suffix == ".json":
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise RequestError(f"failed to unmarshal json task vars file {path!r}: {exc}") from None
    else:
        raise RequestError("bad file extension. Must be YAML or JSON")
    if not isinstance(doc, dict):
        raise RequestError(f"task file {path}: expected an object with template-id, dbrps and vars")
    return doc


def run(args: argparse.Namespace) -> int:
    if args.id and args.name and args.id != args.name:
        return usage_error(args, f"two task IDs given: {args.id!r} and -name {args.name!r}")
    task_id = args.id or args.name
    if not task_id:
        return usage_error(args, "Must provide a task ID.", EXIT_USAGE)
    script: str | None = None
    if args.tick:
        try:
            script = Path(args.tick).read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise RequestError(f"open {args.tick}: {exc.strerror or exc}") from None
    variables = read_vars(args.vars) if args.vars else None
    dbrps: list[DBRP] | None = args.dbrp or None
    template_id: str | None = args.template or None
    if args.file:
        doc = _read_task_file(args.file)
        file_id = doc.get("id")
        if file_id and file_id != task_id:
            raise RequestError(f"Task id given on command line does not match id in {args.file}")
        template_id = doc.get("template-id") or doc.get("template_id") or template_id
        if doc.get("dbrps"):
            dbrps = [_dbrp_from(d, args.file) for d in doc["dbrps"]]
        if doc.get("vars"):
            variables = vars_from_json(doc["vars"], args.file)

    with connect(args) as client:
        try:
            existing = client.task(task_id)
        except NotFoundError:
            existing = None
        if existing is None:
            client.create_task(
                task_id,
                template_id=template_id or "",
                type=args.type,
                dbrps=dbrps or (),
                script=script or "",
                status="disabled",
                vars=variables,
            )
            return 0
        client.update_task(
            task_id,
            template_id=template_id,
            type=args.type,
            dbrps=dbrps,
            script=script,
            vars=variables,
        )
        if existing.status == "enabled" and not args.no_reload:
            client.update_task(task_id, status="disabled")
            client.update_task(task_id, status="enabled")
    return 0


def _dbrp_from(item: Any, where: str) -> DBRP:
    if isinstance(item, dict) and isinstance(item.get("db"), str) and isinstance(item.get("rp"), str):
        return DBRP(item["db"], item["rp"])
    if isinstance(item, str):
        try:
            return parse_dbrp(item)
        except argparse.ArgumentTypeError as exc:
            raise RequestError(f"{where}: {exc}") from None
    raise RequestError(f'{where}: a dbrp must be {{"db": ..., "rp": ...}}')
