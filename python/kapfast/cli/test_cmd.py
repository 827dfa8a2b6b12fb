"""``kapfast test SCRIPT``: run a TICKscript offline against recordings on a virtual clock.

Prints one JSON object on stdout: ``{"http_out": {NAME: body}}`` (and ``"alerts": [...]`` with
``--alerts`` or when the script has no httpOut), or a readable summary with ``--summary``.
See /work/shared/conformance/README.md for the contract.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any

from kapfast.clock import VirtualClock
from kapfast.engine.context import TaskContext
from kapfast.engine.replay import ReplayStats, replay_batches, replay_stream
from kapfast.engine.task import Task
from kapfast.errors import InputError, KapfastError
from kapfast.tick import compile_script
from kapfast.timefmt import parse_rfc3339_ns
from kapfast.udf import UDFService
from kapfast.udf.service import from_config_file

NAME = "test"
HELP = "run a TICKscript offline against .srpl/.brpl recordings and print its httpOut results and alerts"


def _duration_ns(text: str) -> int:
    units = {
        "ns": 1,
        "u": 1_000,
        "us": 1_000,
        "µs": 1_000,
        "ms": 1_000_000,
        "s": 10**9,
        "m": 60 * 10**9,
        "h": 3600 * 10**9,
        "d": 86400 * 10**9,
        "w": 7 * 86400 * 10**9,
    }
    t = text.strip()
    for u in sorted(units, key=len, reverse=True):
        if t.endswith(u):
            num = t[: -len(u)]
            try:
                return int(float(num) * units[u])
            except ValueError:
                break
    raise argparse.ArgumentTypeError(f"invalid duration {text!r} (use e.g. 13s, 5m, 1h)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("script", help="the TICKscript file")
    parser.add_argument(
        "--type", "-type", choices=("stream", "batch"), help="task type (default: from the script)"
    )
    parser.add_argument(
        "--dbrp", "-dbrp", action="append", default=[], metavar="DB.RP", help="database.retention"
    )
    parser.add_argument(
        "--clock-zero", metavar="TIME", help="shift the data so its first point lands here (RFC3339)"
    )
    parser.add_argument("--duration", type=_duration_ns, default=None, help="how long the virtual clock runs")
    parser.add_argument("--task-id", default="test", help="the task's id (default: test)")
    parser.add_argument("--data", action="append", default=[], metavar="FILE", help=".srpl/.brpl recording")
    parser.add_argument(
        "--http-out", action="append", default=[], metavar="NAME", help="httpOut endpoint to print"
    )
    parser.add_argument("--alerts", action="store_true", help="print the alert events the task raised")
    parser.add_argument("--summary", action="store_true", help="print a readable summary instead of JSON")
    parser.add_argument(
        "--stats",
        action="store_true",
        help="add the task's statistics (task-stats, node-stats as Kapacitor has them, kapfast-node-stats)",
    )
    parser.add_argument(
        "--precision",
        default="auto",
        choices=("auto", "ns", "us", "ms", "s", "m", "h"),
        help="timestamps of .srpl files (auto: gzipped ns, plain s)",
    )
    parser.add_argument("--vars", metavar="FILE", help="vars as JSON ({name: {type, value}})")
    parser.add_argument(
        "--config",
        "-config",
        metavar="FILE",
        help="kapfastd's config file: its [udf.functions.*] agents run the script's @udf() nodes",
    )
    parser.add_argument(
        "--group-expiry",
        type=_duration_ns,
        default=0,
        metavar="DUR",
        help="drop a group's state once it sent nothing for DUR of data time (as [groups] expire-idle)",
    )


def _endpoints(task: Task) -> list[str]:
    return [str(n.args[0]) for n in task.pipeline.nodes if n.kind == "httpOut" and n.args]


def run(args: argparse.Namespace) -> int:
    try:
        text = Path(args.script).read_text(encoding="utf-8-sig")
    except OSError as exc:
        print(f"{args.script}: cannot read: {exc.strerror or exc}", file=sys.stderr)
        return 2
    variables = None
    if args.vars:
        try:
            variables = json.loads(Path(args.vars).read_text(encoding="utf-8-sig"))
        except (OSError, ValueError) as exc:
            print(f"{args.vars}: cannot read vars: {exc}", file=sys.stderr)
            return 2
    udfs = _udf_service(args.config)
    pipeline = compile_script(
        text, vars=variables, task_type=args.type, source=args.script, udfs=udfs.infos if udfs else None
    )
    if args.type and pipeline.task_type != args.type:
        raise InputError(f"the script is a {pipeline.task_type} task, not {args.type}")
    zero = parse_rfc3339_ns(args.clock_zero) if args.clock_zero else None
    clock = VirtualClock(zero or 0)
    ctx = TaskContext(
        task_id=args.task_id, clock=clock, task_master="testStreamer", group_expiry_ns=args.group_expiry
    )
    registry = _topic_registry()
    if registry is not None:
        ctx.services["alert_topics"] = registry
    if udfs is not None:
        ctx.services["udf"] = udfs
    for path in args.data:
        if not Path(path).exists():
            raise InputError(f"{path}: no such recording")
    task = Task(args.task_id, pipeline, ctx)
    st = ReplayStats()
    try:
        if pipeline.task_type == "stream":
            for path in args.data:
                replay_stream(task, path, clock, clock_zero_ns=zero, precision=args.precision, stats=st)
        else:
            replay_batches(task, args.data, clock, clock_zero_ns=zero, stats=st)
        start = zero if zero is not None else (st.first_ns or 0)
        if args.duration is not None:
            clock.set(start + args.duration)
            task.tick(clock.now_ns(), end=True)
    except BaseException:
        task.abort()  # UDF agents stop with the run
        raise
    task.finish()
    names = args.http_out or _endpoints(task)
    out: dict[str, Any] = {"http_out": {}}
    for name in names:
        body = task.http_out(name)
        if body is None:
            raise KapfastError(f"the script has no httpOut('{name}')")
        out["http_out"][name] = body
    if args.alerts or not names:
        out["alerts"] = _alerts(registry)
    if args.stats:
        out["stats"] = {
            "task-stats": {"throughput": task.throughput(), "points": st.points, "batches": st.batches},
            "node-stats": task.node_stats(),
            "kapfast-node-stats": task.extra_stats(),
        }
    if args.summary:
        _print_summary(task, st, out)
    else:
        print(json.dumps(out))
    return 0


def _udf_service(path: str | None) -> UDFService | None:
    """The config file's UDFs, each asked for its Info (None without ``-config``)."""
    return from_config_file(path) if path else None


def _topic_registry() -> Any:
    """The alert nodes' topic registry (None when kapfast has no alert node)."""
    try:
        topics = importlib.import_module("kapfast.engine.alert.topics")
    except ImportError:
        return None
    return topics.TopicRegistry()


def _alerts(registry: Any) -> list[dict[str, Any]]:
    """Every alert event the task's alert nodes raised, topic by topic, in order."""
    if registry is None:
        return []
    out: list[dict[str, Any]] = []
    for name in registry.topics():
        topic = registry.get(name)
        if topic is None:
            continue
        for event in topic.recent:
            out.append(json.loads(event.to_json_bytes()))
    return out


def _print_summary(task: Task, st: ReplayStats, out: dict[str, Any]) -> None:
    print(
        f"task {task.id} ({task.pipeline.task_type}): replayed {st.points} point(s), {st.batches} batch(es)"
    )
    extra = task.extra_stats()
    for name, stats in task.node_stats().items():
        first = {"collected": stats.pop("collected"), "emitted": stats.pop("emitted")}
        rest = sorted({**stats, **extra.get(name, {})}.items())
        parts = " ".join(f"{k}={v}" for k, v in [*first.items(), *rest])
        print(f"  {name}: {parts}")
    for name, body in out["http_out"].items():
        series = body.get("series") or []
        print(f"httpOut {name}: {len(series)} series")
        for s in series:
            tags = ",".join(f"{k}={v}" for k, v in (s.get("tags") or {}).items())
            print(f"  {s.get('name')} {tags}")
            for row in s.get("values") or []:
                print("    " + "  ".join(str(v) for v in row))
    for a in out.get("alerts", []):
        print(f"alert {a.get('level')} {a.get('id')}: {a.get('message')}")
