"""``kapfast cluster status``: a scale-out cluster as one node sees it (``GET /kapacitor/v1/cluster``):
its members, who owns each partition and placed task, and how far each consumer lags."""

from __future__ import annotations

import argparse
import json
import sys

from kapfast.cli.session import connect

NAME = "cluster"
HELP = "show the scale-out cluster: members, partitions, lag per consumer"
CLIENT = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["status"], help="status: members, partitions and lag")
    parser.add_argument("-json", "--json", dest="json", action="store_true", help="print the JSON as sent")


def _lag(v: object) -> str:
    return "-" if v is None else str(v)


def run(args: argparse.Namespace) -> int:
    with connect(args) as client:
        data = client.request("GET", "/kapacitor/v1/cluster")[1]
    if args.json:
        sys.stdout.buffer.write(data)
        return 0
    st = json.loads(data)
    out = sys.stdout
    stream = st["stream"]
    out.write(
        f"Stream {stream['name']}: {stream['messages']} messages, sequences {stream['first_seq']}-"
        f"{stream['last_seq']}; {st['partitions_total']} partitions by {','.join(st['partition_key'])}\n\n"
    )
    out.write(f"{'Member':<24}{'Role':<8}HTTP\n")
    for m in st["members"]:
        out.write(f"{m['id']:<24}{m.get('role', ''):<8}{m.get('http', '')}\n")
    out.write(f"\n{'Partition':<11}{'Owner':<24}{'Consumer':<20}Lag\n")
    for p in st["partitions"]:
        out.write(f"{p['partition']:<11}{p['owner'] or '(none)':<24}{p['consumer']:<20}{_lag(p['lag'])}\n")
    if st["placed_tasks"]:
        out.write(f"\n{'Placed task':<24}{'Owner':<24}{'Consumer':<28}Lag\n")
        for t in st["placed_tasks"]:
            out.write(f"{t['task']:<24}{t['owner'] or '(none)':<24}{t['consumer']:<28}{_lag(t['lag'])}\n")
    return 0
