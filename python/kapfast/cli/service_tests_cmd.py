"""``kapfast service-tests <service name or glob>...``: run the test of each matching service with
its default options and print ``Service Success Message`` (``kapacitor service-tests``)."""

from __future__ import annotations

import argparse
import sys

from kapfast.cli.session import connect, usage_error

NAME = "service-tests"
HELP = "test a service (smtp, slack, influxdb ...) with its default options"
CLIENT = True
DESCRIPTION = """Perform the service test using defaults.
The service name can be a glob style pattern."""
EPILOG = """examples:
  kapfast service-tests smtp
  kapfast service-tests '*'"""

#: kapacitor's layout: "%-20s%-10v%s\n", the success as Go prints a bool
_ROW = "{:<20}{:<10}{}\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", metavar="SERVICE", help="service names or glob patterns")


def run(args: argparse.Namespace) -> int:
    if not args.names:
        return usage_error(args, "must provide at least one service name or pattern.")
    with connect(args) as client:
        services = []
        for pattern in args.names:
            services.extend(client.list_service_tests(pattern))
        results = [client.run_service_test(s.name) for s in services]
    out = [_ROW.format("Service", "Success", "Message")]
    for s, r in zip(services, results, strict=True):
        out.append(_ROW.format(s.name, "true" if r.success else "false", r.message))
    sys.stdout.write("".join(out))
    return 0
