"""``kapfast record stream|batch|query [options]``: record live data, a batch task's queries or a
query, as ``kapacitor record`` does, then print the recording's ID.

Without ``-no-wait`` it waits for the recording to finish (a progress bar shows on a terminal,
on stderr) and fails with the server's error if the recording failed. Only the ID goes to
stdout, so ``rid=$(kapfast record stream -task cpu -duration 1m)`` captures just the ID. With
``-no-wait`` the ID is printed at once, as kapacitor 1.x's ``cmd/kapacitor`` does (it prints the
ID in both cases), so ``rid=$(... -no-wait)`` works too. Old guides' ``record stream -name TASK``
works.
"""

from __future__ import annotations

import argparse
import datetime as _dt

from kapfast.cli import render
from kapfast.cli.session import EXIT_FAILED, connect, flag, usage_error, wait_until_done
from kapfast.client import Recording
from kapfast.errors import RequestError
from kapfast.tick.durations import parse_duration

NAME = "record"
HELP = "record the result of a query or a snapshot of the current stream data"
CLIENT = True
DESCRIPTION = """Record the result of an InfluxDB query or a snapshot of the live data stream.

Prints the recording ID on exit. See 'kapfast help replay' for how to replay a recording."""
EPILOG = """examples:
  kapfast record stream -task mem_free -duration 1m
  kapfast record batch -task cpu_idle -start 2015-09-01T00:00:00Z -stop 2015-09-02T00:00:00Z
  kapfast record batch -task cpu_idle -past 10h
  kapfast record query -type stream \\
      -query 'select value from "telegraf"."autogen"."cpu_idle" where time > now() - 1h'"""


def _common(p: argparse.ArgumentParser) -> None:
    flag(p, "recording-id", metavar="ID", default="", help="the ID of the recording (default: random)")
    flag(p, "no-wait", action="store_true", help="do not wait for the recording to finish")
    p.add_argument("-help", action="help", help=argparse.SUPPRESS)
    p.set_defaults(_verb_parser=p)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    kinds = parser.add_subparsers(dest="kind", metavar="stream|batch|query")
    stream = kinds.add_parser("stream", help="record a snapshot of the live data stream", allow_abbrev=False)
    flag(stream, "task", "name", metavar="ID", default="", help="the task whose dbrps to record")
    flag(stream, "duration", metavar="DURATION", default="", help="how long to record, e.g. 1m")
    _common(stream)
    batch = kinds.add_parser("batch", help="record the queries of a batch task", allow_abbrev=False)
    flag(batch, "task", "name", metavar="ID", default="", help="the batch task whose queries to run")
    flag(batch, "start", metavar="TIME", default="", help="the start time (RFC 3339) of the queries")
    flag(batch, "stop", metavar="TIME", default="", help="the stop time (RFC 3339; default now)")
    flag(batch, "past", metavar="DURATION", default="", help="set the start time to stop - past")
    flag(batch, "cluster", metavar="NAME", default="", help="the named InfluxDB cluster to query")
    _common(batch)
    query = kinds.add_parser("query", help="record the result of an InfluxQL query", allow_abbrev=False)
    flag(query, "query", metavar="QUERY", default="", help="the InfluxQL query to record")
    flag(query, "type", metavar="stream|batch", default="", help="the type of recording to save")
    flag(query, "cluster", metavar="NAME", default="", help="the named InfluxDB cluster to query")
    _common(query)


def parse_duration_flag(text: str) -> int:
    # imported here: kapfast.tick loads the whole TICKscript compiler
    try:
        return parse_duration(text)
    except ValueError:
        raise RequestError(f"invalid duration {text!r} (use e.g. 30s, 10m, 1h30m)") from None


def parse_time_flag(text: str, flag_name: str) -> _dt.datetime:
    try:
        return render.parse_time(text)[0]
    except ValueError:
        raise RequestError(
            f"-{flag_name} {text!r}: not an RFC 3339 time (e.g. 2015-09-01T00:00:00Z)"
        ) from None


def run(args: argparse.Namespace) -> int:
    if args.kind is None:
        return usage_error(args, "Must specify stream, batch or query")
    now = _dt.datetime.now(_dt.UTC)
    expected: float | None = None
    with connect(args) as client:
        if args.kind == "stream":
            if not args.task or not args.duration:
                return usage_error(args, "both task and duration are required", EXIT_FAILED)
            ns = parse_duration_flag(args.duration)
            expected = ns / 1e9
            stop = now + _dt.timedelta(microseconds=ns // 1000)
            recording = client.record_stream(args.task, stop, recording_id=args.recording_id)
        elif args.kind == "batch":
            if not args.task:
                return usage_error(args, "task is required", EXIT_FAILED)
            if not args.start and not args.past:
                return usage_error(args, "must set one of start or past flags.", EXIT_FAILED)
            if args.start and args.past:
                return usage_error(args, "cannot set both start and past flags.", EXIT_FAILED)
            stop = parse_time_flag(args.stop, "stop") if args.stop else now
            if args.start:
                start = parse_time_flag(args.start, "start")
            else:
                start = stop - _dt.timedelta(microseconds=parse_duration_flag(args.past) // 1000)
            recording = client.record_batch(
                args.task, start, stop, recording_id=args.recording_id, cluster=args.cluster
            )
        else:
            if not args.query or not args.type:
                return usage_error(args, "both query and type are required", EXIT_FAILED)
            if args.type not in ("stream", "batch"):
                raise RequestError(f"invalid recording type {args.type!r}, expected 'stream' or 'batch'")
            recording = client.record_query(
                args.query, args.type, recording_id=args.recording_id, cluster=args.cluster
            )
        if args.no_wait:
            print(recording.id, flush=True)
            return 0
        done: Recording = wait_until_done(
            recording, client.recording, label=f"recording {recording.id}", expected_seconds=expected
        )
    print(done.id, flush=True)
    if done.status == "failed":
        raise RequestError(done.error or "recording failed: unknown reason")
    return 0
