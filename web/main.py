"""The application factory and the server entry point.

``create_app(settings)`` follows aiohttp-demos/polls: typed app keys, the MariaDB pool,
the read-only query runner, a Kafka producer and a Cassandra session opened and closed
in ``cleanup_ctx``, the live-feed consumer, named routes, jinja2 templates and the
error, session and CSRF middlewares.
"""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiokafka import AIOKafkaProducer

from solas import metrics
from solas.settings import Settings
from solas.stores import cassandra
from solas.stores.mariadb import readonly_credentials
from web import accounts, api, db, jobs, pages
from web.config import (CONFIG, JOBS, LIVE, SERVICES, SETTINGS, SHERLOCK, SIGNER,
                        STATUS, TOKENS, Services, WebConfig)
from web.lightcurves import reader
from web.live import LiveHub
from web.middleware import (csrf_middleware, error_middleware, security_headers,
                            session_middleware)
from web.metrics import metrics_middleware
from web.publish import Publisher
from web.queries import ReadOnlyRunner
from web.ratelimit import forget_old_counts
from web.security import ApiTokens, SessionSigner, load_secret
from web.sherlock import SherlockService

HERE = Path(__file__).resolve().parent
log = logging.getLogger("solas.web")


async def services_ctx(app: web.Application):
    """Open the pools and clients; close them on shutdown."""
    settings, config = app[SETTINGS], app[CONFIG]
    pool = await db.open_pool(settings)
    await db.ensure_web_tables(pool)
    if await accounts.hash_clear_tokens(pool):
        log.info("API tokens stored in clear were replaced by their digests")
    await forget_old_counts(pool)
    user, password = ((config.readonly_user, config.readonly_password)
                      if config.readonly_user else readonly_credentials(settings))
    runner = ReadOnlyRunner(settings, user, password,
                            timeout_s=config.query_timeout_s, grace_s=config.watchdog_grace_s)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka, acks="all",
                                max_request_size=settings.max_message_bytes,
                                request_timeout_ms=30000)
    await producer.start()
    loop = asyncio.get_running_loop()
    cluster, session = await loop.run_in_executor(None, cassandra.connect, settings)
    try:
        cass = await loop.run_in_executor(None, reader, settings, session)
        app[SERVICES] = Services(pool, runner, Publisher(producer, settings), cass)
        yield
    finally:
        await jobs.cancel_all(app)
        await producer.stop()
        runner.close()
        pool.close()
        await pool.wait_closed()
        await loop.run_in_executor(None, cluster.shutdown)


async def live_ctx(app: web.Application):
    """Run the live-feed consumer."""
    hub = LiveHub(app[SETTINGS], queue_size=app[CONFIG].live_queue)
    app[LIVE] = hub
    hub.start()
    yield
    await hub.stop()


def setup_routes(app: web.Application) -> None:
    """API, pages, WebSockets and static files; API routes also answer without the
    trailing slash."""
    app.router.add_routes(api.routes)
    for resource in list(app.router.resources()):
        path = resource.canonical
        if path.startswith("/api/") and path.endswith("/"):
            for route in resource:
                app.router.add_route(route.method, path.rstrip("/"), route.handler)
    app.router.add_routes(pages.routes)
    app.router.add_static("/static/", HERE / "static", name="static")
    # no /metrics here: they are served on settings.web_metrics_port (see run_web)


def create_app(settings: Settings, config: WebConfig | None = None) -> web.Application:
    """The portal, REST API and live feed of one deployment."""
    config = config or WebConfig()
    app = web.Application(middlewares=[metrics_middleware, error_middleware,
                                       session_middleware, csrf_middleware],
                          client_max_size=config.max_form_bytes)
    app[SETTINGS] = settings
    app[CONFIG] = config
    app[SIGNER] = SessionSigner(load_secret(settings), config.session_days * 86400)
    app[TOKENS] = ApiTokens(load_secret(settings))
    app[JOBS] = set()
    app[STATUS] = []
    app[SHERLOCK] = SherlockService(settings)
    env = aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(HERE / "templates"),
                               autoescape=jinja2.select_autoescape(["html"]),
                               context_processors=[pages.context_processor])
    pages.setup_filters(env)
    app.on_response_prepare.append(security_headers)
    app.cleanup_ctx.append(services_ctx)
    app.cleanup_ctx.append(live_ctx)
    setup_routes(app)
    return app


def run_web(settings: Settings, port: int | None = None, host: str = "0.0.0.0",
            config: WebConfig | None = None) -> None:
    """Serve the portal until stopped (blocking; ``solas web``)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    metrics.serve_metrics(settings.web_metrics_port, settings.metrics_bind)
    web.run_app(create_app(settings, config), host=host,
                port=settings.web_port if port is None else port, access_log=None)
