"""``kapfast replay -task ID -recording ID [-real-clock] [-rec-time] [-replay-id ID] [-no-wait]``:
replay a recording to a task (``kapacitor replay``), then print the replay's ID.

The clock is fast unless ``-real-clock``. Old guides' ``replay -id RID -name TASK -fast`` works.
"""

from __future__ import annotations

import argparse

from kapfast.cli.session import EXIT_FAILED, connect, flag, usage_error, wait_until_done
from kapfast.client import Replay
from kapfast.errors import RequestError

NAME = "replay"
HELP = "replay a recording to a task"
CLIENT = True
DESCRIPTION = """Replay a recording to a task. Prints the replay ID.

The data points keep the times of the recording with -rec-time, else they are shifted to now;
the time between points stays the same either way."""
EPILOG = """examples:
  kapfast replay -task cpu_alert -recording $rid
  kapfast replay -task cpu_alert -recording $rid -real-clock -rec-time"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    flag(parser, "task", "name", metavar="ID", default="", help="the task to replay to")
    flag(parser, "recording", "id", metavar="ID", default="", help="the recording to replay")
    flag(parser, "real-clock", action="store_true", help="replay in real time (default: as fast as possible)")
    flag(parser, "fast", action="store_true", help=argparse.SUPPRESS)  # the old default-changing flag
    flag(parser, "rec-time", action="store_true", help="keep the recorded times instead of shifting to now")
    flag(parser, "replay-id", metavar="ID", default="", help="the ID of the replay (default: random)")
    flag(parser, "no-wait", action="store_true", help="do not wait for the replay to finish")


def run(args: argparse.Namespace) -> int:
    if args.real_clock and args.fast:
        return usage_error(args, "-fast and -real-clock contradict each other")
    if not args.recording:
        return usage_error(args, "must pass recording ID", EXIT_FAILED)
    if not args.task:
        return usage_error(args, "must pass task ID", EXIT_FAILED)
    with connect(args) as client:
        replay = client.create_replay(
            args.task,
            args.recording,
            replay_id=args.replay_id,
            recording_time=args.rec_time,
            clock="real" if args.real_clock else "fast",
        )
        if args.no_wait:
            print(replay.id, flush=True)
            return 0
        done: Replay = wait_until_done(replay, client.replay, label=f"replay {replay.id}")
    print(done.id, flush=True)
    if done.status == "failed":
        raise RequestError(done.error or "replay failed: unknown reason")
    return 0
