"""``kapfast replay-live batch|query [options]``: run a batch task's queries, or a query, straight
into a task without saving a recording (``kapacitor replay-live``); prints the replay's ID."""

from __future__ import annotations

import argparse
import datetime as _dt

from kapfast.cli.record_cmd import parse_duration_flag, parse_time_flag
from kapfast.cli.session import EXIT_FAILED, connect, flag, usage_error, wait_until_done
from kapfast.client import Clock, Replay
from kapfast.errors import RequestError

NAME = "replay-live"
HELP = "replay data against a task without recording it"
CLIENT = True
DESCRIPTION = """Replay data to a task directly without saving a recording.

A hybrid of 'kapfast record batch|query' and 'kapfast replay'."""
EPILOG = """examples:
  kapfast replay-live batch -task cpu_idle -start 2015-09-01T00:00:00Z -stop 2015-09-02T00:00:00Z
  kapfast replay-live batch -task cpu_idle -past 10h
  kapfast replay-live query -task cpu_alert -rec-time \\
      -query 'select value from "telegraf"."autogen"."cpu_idle" where time > now() - 1h'"""


def _common(p: argparse.ArgumentParser) -> None:
    flag(p, "task", metavar="ID", default="", help="the task to replay to")
    flag(p, "real-clock", action="store_true", help="replay in real time (default: as fast as possible)")
    flag(p, "rec-time", action="store_true", help="keep the recorded times instead of shifting to now")
    flag(p, "replay-id", metavar="ID", default="", help="the ID of the replay (default: random)")
    flag(p, "no-wait", action="store_true", help="do not wait for the replay to finish")
    flag(p, "cluster", metavar="NAME", default="", help="the named InfluxDB cluster to query")
    p.add_argument("-help", action="help", help=argparse.SUPPRESS)
    p.set_defaults(_verb_parser=p)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    kinds = parser.add_subparsers(dest="kind", metavar="batch|query")
    batch = kinds.add_parser("batch", help="replay the queries of a batch task", allow_abbrev=False)
    flag(batch, "start", metavar="TIME", default="", help="the start time (RFC 3339) of the queries")
    flag(batch, "stop", metavar="TIME", default="", help="the stop time (RFC 3339; default now)")
    flag(batch, "past", metavar="DURATION", default="", help="set the start time to stop - past")
    _common(batch)
    query = kinds.add_parser("query", help="replay the result of an InfluxQL query", allow_abbrev=False)
    flag(query, "query", metavar="QUERY", default="", help="the InfluxQL query to replay")
    _common(query)


def run(args: argparse.Namespace) -> int:
    if args.kind is None:
        return usage_error(args, "Must specify batch or query")
    clock: Clock = "real" if args.real_clock else "fast"
    with connect(args) as client:
        if args.kind == "batch":
            if not args.task:
                return usage_error(args, "task is required", EXIT_FAILED)
            if not args.start and not args.past:
                return usage_error(args, "must set one of start or past flags.", EXIT_FAILED)
            if args.start and args.past:
                return usage_error(args, "cannot set both start and past flags.", EXIT_FAILED)
            stop = parse_time_flag(args.stop, "stop") if args.stop else _dt.datetime.now(_dt.UTC)
            if args.start:
                start = parse_time_flag(args.start, "start")
            else:
                start = stop - _dt.timedelta(microseconds=parse_duration_flag(args.past) // 1000)
            replay = client.replay_batch(
                args.task,
                start,
                stop,
                replay_id=args.replay_id,
                recording_time=args.rec_time,
                clock=clock,
                cluster=args.cluster,
            )
        else:
            if not args.query or not args.task:
                return usage_error(args, "both query and task are required", EXIT_FAILED)
            replay = client.replay_query(
                args.task,
                args.query,
                replay_id=args.replay_id,
                recording_time=args.rec_time,
                clock=clock,
                cluster=args.cluster,
            )
        if args.no_wait:
            print(replay.id, flush=True)
            return 0
        done: Replay = wait_until_done(replay, client.replay, label=f"replay {replay.id}")
    print(done.id, flush=True)
    if done.status == "failed":
        raise RequestError(done.error or "replay failed: unknown reason")
    return 0
