"""The ``solas`` command line (DESIGN section 3)."""
from __future__ import annotations

import argparse
import asyncio
import sys

from solas.settings import get_settings


def _db_init(args) -> int:
    from solas.db import init_all
    from solas.stores.survey_check import SurveyMismatch

    try:
        lines = init_all(get_settings())
    except (SurveyMismatch, PermissionError) as exc:
        print(f"solas db init: {exc}", file=sys.stderr)
        return 1
    for line in lines:
        print(line)
    return 0


def _db_schema(args) -> int:
    from solas.schema.reference import schema_markdown

    sys.stdout.write(schema_markdown(args.survey or get_settings().survey))
    return 0


def _catalogs_load(args) -> int:
    from catalogs.load import load_catalogues

    for result in load_catalogues(get_settings(), args.names, progress=not args.quiet):
        print(f"catalogue {result.name}: {result.rows} rows in {result.seconds:.1f} s "
              f"(version {result.version})")
    return 0


def _tns_update(args) -> int:
    from pathlib import Path

    from catalogs.load import load_tns

    rows = load_tns(get_settings(), Path(args.path), progress=not args.quiet)
    print(f"crossmatch_tns: {rows} TNS objects added or updated from {args.path}")
    return 0


def _web(args) -> int:
    from web.main import run_web

    run_web(get_settings(), args.port)
    return 0


def _users_add(args) -> int:
    from web.accounts import AccountError, add_user

    password = sys.stdin.readline().rstrip("\n")
    try:
        user_id = add_user(get_settings(), args.name, args.email, password, args.user_class,
                           args.admin)
    except AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"user {args.name} created (id {user_id}, class {args.user_class}"
          f"{', admin' if args.admin else ''})")
    return 0


def _replay(args) -> int:
    from solas.replay import replay

    settings = get_settings()
    stats = asyncio.run(replay(settings, args.paths, rate=args.rate, clone=args.clone,
                               topic=args.topic, progress=not args.quiet))
    print(f"replayed {stats.messages} messages ({stats.alerts} alerts from {stats.files} "
          f"files, {stats.unreadable_files} unreadable files sent verbatim) to "
          f"{args.topic or settings.raw_topic} in {stats.seconds:.1f} s "
          f"({stats.messages / max(stats.seconds, 1e-9):.0f}/s)")
    return 0


def _worker(args) -> int:
    from agents import AGENTS
    from agents.worker import run_worker

    run_worker(args.agents.split(",") if args.agents else AGENTS, args.loglevel)
    return 0


def _demo(args) -> int:
    from solas.demo import run_demo

    return run_demo(get_settings())


def _bench(args) -> int:
    from solas.bench.run import run_bench

    return run_bench(get_settings(), args.stage, args.alerts, args.rate, args.json,
                     args.source, args.workers, args.preload, args.mix, args.warmup)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    from solas.stack.cli import add_parser as add_stack_parser

    parser = argparse.ArgumentParser(prog="solas", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    add_stack_parser(sub)

    db = sub.add_parser("db", help="database schemas")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("init", help="create/upgrade MariaDB + Cassandra schemas and topics"
                      ).set_defaults(func=_db_init)
    ref = db_sub.add_parser("schema", help="print the schema reference (every column's "
                            "definition) as Markdown, as in docs/schema-<survey>.md")
    ref.add_argument("--survey", choices=["ztf", "lsst"],
                     help="deployment to describe (default: SOLAS_SURVEY)")
    ref.set_defaults(func=_db_schema)

    cat = sub.add_parser("catalogs", help="sky-context catalogues")
    cat_sub = cat.add_subparsers(dest="catalogs_command", required=True)
    load = cat_sub.add_parser("load", help="load the shipped catalogues into MariaDB")
    load.add_argument("names", nargs="*", help="catalogues to load (default: all)")
    load.add_argument("--quiet", action="store_true", help="no progress bar")
    load.set_defaults(func=_catalogs_load)

    tns = sub.add_parser("tns", help="Transient Name Server objects")
    tns_sub = tns.add_subparsers(dest="tns_command", required=True)
    update = tns_sub.add_parser("update", help="add/update TNS objects from a CSV download")
    update.add_argument("path", help="tns_public_objects.csv(.gz) from the TNS")
    update.add_argument("--quiet", action="store_true", help="no progress bar")
    update.set_defaults(func=_tns_update)

    rp = sub.add_parser("replay", help="produce real alerts into the raw topic")
    rp.add_argument("paths", nargs="+", help="alert files or folders (Avro or JSON)")
    rp.add_argument("--rate", type=float, help="alerts per second (default: as fast as possible)")
    rp.add_argument("--clone", type=int, default=0,
                    help="make N synthetic objects per alert (new ids, jittered positions)")
    rp.add_argument("--topic", help="topic (default alerts-<survey>)")
    rp.add_argument("--quiet", action="store_true", help="no progress bar")
    rp.set_defaults(func=_replay)

    wk = sub.add_parser("worker", help="run the Faust worker")
    wk.add_argument("--agents", help="comma-separated agents (default: all)")
    wk.add_argument("--loglevel", default="INFO")
    wk.set_defaults(func=_worker)

    wb = sub.add_parser("web", help="run the portal, REST API and WebSocket feed")
    wb.add_argument("--port", type=int, help="port (default SOLAS_WEB_PORT, 8080)")
    wb.set_defaults(func=_web)

    users = sub.add_parser("users", help="accounts")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    add = users_sub.add_parser("add", help="create an account (password read from stdin)")
    add.add_argument("name")
    add.add_argument("--email", required=True)
    add.add_argument("--class", dest="user_class", default="user",
                     choices=["anonymous", "user", "power"])
    add.add_argument("--admin", action="store_true")
    add.set_defaults(func=_users_add)

    sub.add_parser("demo", help="start everything and replay the real sample alerts"
                   ).set_defaults(func=_demo)

    bn = sub.add_parser("bench", help="benchmark a stage on the running stack")
    bn.add_argument("--stage", default="ingest",
                    choices=["ingest", "sherlock", "filter", "features", "all", "portal",
                             "decode"],
                    help="features: the filter stage's feature step alone, no services; "
                    "portal: the portal and API over --alerts synthetic objects; decode: "
                    "decoding the shipped alerts, no services")
    bn.add_argument("--alerts", type=int, default=20000)
    bn.add_argument("--rate", type=float, help="replay rate, alerts/s (default: a backlog; 333, the Rubin mean, "
                    "for --stage all)")
    bn.add_argument("--json", help="write the results to this JSON file (--stage all: "
                    "and the plots beside it as .png)")
    bn.add_argument("--source", nargs="+",
                    help="alert files or folders to clone (default: the shipped alerts of "
                    "the survey; for lsst the Avro packets and the Parquet/tar renderings, "
                    "not the JSON renderings)")
    bn.add_argument("--mix", choices=["wide", "deep", "asis"],
                    help="history of the cloned Rubin alerts: wide (default for lsst: "
                    "13.5 diaSources and 2.2 forced sources per alert on average, 1.2%% "
                    "deep-field alerts of 100-1,000 prior sources), deep (the deep-field "
                    "tail alone), asis (the samples' own histories; the only one for ztf)")
    bn.add_argument("--workers", type=int, default=1,
                    help="ingest worker processes sharing the raw topic (--stage ingest)")
    bn.add_argument("--preload", action="store_true",
                    help="produce every alert before the workers start, and measure once they "
                    "share the raw topic (--stage ingest)")
    bn.add_argument("--warmup", type=int,
                    help="--stage all: alerts sent as a backlog before the timed replay, "
                    "so the services' JIT compilers are done (default 10000, at least 500)")
    bn.set_defaults(func=_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``solas`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
