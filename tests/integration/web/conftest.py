"""Fixtures of the web integration tests: the stack, real sample objects stored in
MariaDB and Cassandra, the portal served from a thread, and accounts with tokens."""
from __future__ import annotations

import asyncio
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
import requests
from aiohttp import web

from solas.db import init_all
from solas.features import compute_features
from solas.settings import Settings
from solas.stores import cassandra, mariadb
from solas.surveys import normalise, read_alert_file
from web.accounts import add_user
from web.config import WebConfig
from web.main import create_app

SAMPLES = {"ztf": ["pittgoogle-ZTF21abiuvdk", "pittgoogle-labelled", "kowalski"],
           "lsst": ["real-v10"]}


class Server(NamedTuple):
    """The portal under test."""

    url: str
    settings: Settings
    app: web.Application
    loop: asyncio.AbstractEventLoop


class Account(NamedTuple):
    """A user of the tests."""

    id: int
    name: str
    password: str
    token: str


def latest_alerts(settings: Settings) -> list:
    """The newest alert of every object in the real samples of the deployment's survey."""
    folder = settings.data_dir / "alerts" / settings.survey
    latest = {}
    for name in SAMPLES[settings.survey]:
        for path in sorted((folder / name).rglob("*.avro")):
            for raw in read_alert_file(path, settings.survey):
                alert = normalise(raw, settings.survey)
                old = latest.get(alert.object_id)
                if old is None or alert.mjd > old.mjd:
                    latest[alert.object_id] = alert
    return list(latest.values())


def store_objects(settings: Settings, alerts: list) -> list[dict]:
    """Write the objects rows (features) and the light curves and cutouts."""
    rows = compute_features(alerts, settings.survey, fits=False)
    columns = list(rows[0])
    sql = (f"REPLACE INTO objects ({', '.join(f'`{c}`' for c in columns)}, `timestamp`) "
           f"VALUES ({', '.join(['%s'] * len(columns))}, UTC_TIMESTAMP(6))")
    with mariadb.connect(settings) as conn, conn.cursor() as cur:
        cur.executemany(sql, [[row[c] for c in columns] for row in rows])
    cluster, session = cassandra.connect(settings)
    try:
        store = cassandra.CassandraStore(settings, session)
        asyncio.run(store.write_alerts(alerts))
    finally:
        cluster.shutdown()
    return rows


@pytest.fixture(scope="session")
def web_settings(stack: Settings, isolate) -> Settings:
    """The stack with a database and topic namespace of the web tests' own, every schema
    created."""
    settings = isolate(stack, stack.survey, database=f"web_{stack.survey}")
    init_all(settings)
    return settings


@pytest.fixture(scope="session")
def sample_objects(web_settings: Settings) -> list[dict]:
    """objects rows of the real sample alerts, stored with their light curves."""
    return store_objects(web_settings, latest_alerts(web_settings))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(settings: Settings, config: WebConfig | None = None) -> Iterator[Server]:
    """Run the portal in a thread until the generator is closed."""
    port = free_port()
    loop = asyncio.new_event_loop()
    app = create_app(settings, config)
    runner = web.AppRunner(app)
    started = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        started.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    if not started.wait(120):
        raise RuntimeError("the portal did not start")
    try:
        yield Server(f"http://127.0.0.1:{port}", settings, app, loop)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(60)


@pytest.fixture(scope="session")
def server(web_settings: Settings, sample_objects, tmp_path_factory) -> Iterator[Server]:
    """The portal on a free port (query limit 3 s so timeouts are quick to test)."""
    settings = web_settings
    if not settings.web_secret_file:
        import dataclasses
        secret = tmp_path_factory.mktemp("web") / "secret.key"
        settings = dataclasses.replace(settings, web_secret_file=str(secret))
    yield from serve(settings, WebConfig(query_timeout_s=3.0, watchdog_grace_s=1.0,
                                         max_watchmap_bytes=8 * 2**20))


def make_account(server: Server, user_class: str = "user", admin: bool = False) -> Account:
    """A new account with an API token (from /api/auth-token/)."""
    name = f"u{uuid.uuid4().hex[:10]}"
    password = f"pw-{uuid.uuid4().hex}"
    user_id = add_user(server.settings, name, f"{name}@example.org", password, user_class,
                       admin)
    r = requests.post(f"{server.url}/api/auth-token/", data={"username": name,
                                                              "password": password})
    r.raise_for_status()
    return Account(user_id, name, password, r.json()["token"])


@pytest.fixture()
def alice(server: Server) -> Account:
    return make_account(server, "power")


@pytest.fixture()
def bob(server: Server) -> Account:
    return make_account(server, "power")


@pytest.fixture()
def data_dir(web_settings: Settings) -> Path:
    return web_settings.data_dir
