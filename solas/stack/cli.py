"""``solas stack install|up|down|status``: command line of the local service stack."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping

from solas.settings import get_settings
from solas.stack.base import ServiceStatus
from solas.stack.manager import down, install, status, up
from solas.stack.process import StackError

ACTIONS = {
    "install": "install Debian packages (as root) and fetch the Kafka/Cassandra jars",
    "up": "start Kafka, Cassandra, MariaDB and Prometheus; return once each answers",
    "down": "stop the services Solas started",
    "status": "show each service; exit 0 iff all are ready",
}


DESCRIPTION = "Manage the local service stack; state under $SOLAS_HOME."


def _add_actions(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Give *parser* the ACTION sub-commands and the handler ``func``."""
    actions = parser.add_subparsers(dest="stack_action", required=True, metavar="ACTION")
    for action, text in ACTIONS.items():
        actions.add_parser(action, help=text, description=text)
    parser.set_defaults(func=run)
    return parser


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``stack`` command to *subparsers*; run it with ``args.func(args)``."""
    return _add_actions(subparsers.add_parser(
        "stack", help="local Kafka (KRaft), Cassandra, MariaDB and Prometheus",
        description=DESCRIPTION))


def format_status(statuses: Mapping[str, ServiceStatus]) -> str:
    """A text table of *statuses*, one line per service."""
    rows = [("SERVICE", "RUNNING", "READY", "PID", "DETAIL")]
    rows += [(s.name, "yes" if s.running else "no", "yes" if s.ready else "no",
              str(s.pid or "-"), s.detail) for s in statuses.values()]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join("  ".join(row[i].ljust(widths[i]) for i in range(4)) + "  " + row[4]
                     for row in rows)


def run(args: argparse.Namespace) -> int:
    """Handle ``solas stack ACTION``; the process exit code."""
    settings = get_settings()
    try:
        if args.stack_action == "install":
            install(settings)
        elif args.stack_action == "up":
            up(settings)
        elif args.stack_action == "down":
            down(settings)
        else:
            statuses = status(settings)
            print(format_status(statuses))
            return 0 if all(s.ready for s in statuses.values()) else 1
    except StackError as exc:
        print(f"solas stack {args.stack_action}: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry: ``python -m solas.stack.cli ACTION``."""
    parser = _add_actions(argparse.ArgumentParser(prog="python -m solas.stack.cli",
                                                  description=DESCRIPTION))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
