"""Configuration of the web application and the typed keys of its shared state."""
from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from aiohttp import web

from solas.settings import Settings

if TYPE_CHECKING:  # the modules below import this one
    import aiomysql
    from aiokafka import AIOKafkaProducer

    from web.lightcurves import CassandraReader
    from web.live import LiveHub
    from web.queries import ReadOnlyRunner
    from web.security import ApiTokens, SessionSigner
    from web.sherlock import SherlockService

USER_CLASSES = ("anonymous", "user", "power")
"""Account classes: they set the hourly API limits and the row caps."""
HOURLY_LIMITS = {"anonymous": 10, "user": 100, "power": 10_000}
"""API calls allowed per hour and user class (requests without a token are anonymous)."""
ROW_CAPS = {"anonymous": 1_000, "user": 10_000, "power": 1_000_000}
"""Most rows one /api/query/ call returns, per user class."""
PAGE_ROWS = 1_000
"""Most rows a filter run shows in the portal."""


class WebConfig(NamedTuple):
    """Tunables of the portal (defaults fit the local stack)."""

    query_timeout_s: float = 10.0
    """Server-side limit of a user query (``SET STATEMENT max_statement_time``)."""
    watchdog_grace_s: float = 2.0
    """Extra time before the watchdog sends ``KILL QUERY``."""
    readonly_user: str = ""
    """Account that runs user SQL; empty: the settings' read-only account."""
    readonly_password: str = ""
    """Its password; empty: read from the settings' password file."""
    max_watchlist_bytes: int = 256 * 2**20
    """Largest watchlist CSV upload (a million cones fit easily)."""
    max_watchmap_bytes: int = 128 * 2**20
    """Largest MOC or sky-map upload (a flat nside-1024 map is ~100 MB uncompressed)."""
    max_form_bytes: int = 2 * 2**20
    """Largest ordinary form or JSON body."""
    max_cone_radius_arcsec: float = 1000.0
    secure_cookies: bool = False
    """Mark the session cookie Secure (serve over HTTPS)."""
    session_days: int = 14
    live_queue: int = 1000
    """Messages buffered per WebSocket client before it is dropped as too slow."""


class Services(NamedTuple):
    """Handles opened at start-up (see :mod:`web.main`)."""

    db: "aiomysql.Pool"
    """Autocommit pool on the Solas database (the owner account)."""
    readonly: "ReadOnlyRunner"
    """Runs user SQL on the read-only account."""
    producer: "Publisher"
    """The Kafka producer bound to the deployment's topics (:mod:`web.publish`)."""
    cassandra: "CassandraReader"


SETTINGS = web.AppKey("settings", Settings)
CONFIG = web.AppKey("config", WebConfig)
SERVICES = web.AppKey("services", Services)
SIGNER = web.AppKey("signer", "SessionSigner")
LIVE = web.AppKey("live", "LiveHub")
JOBS = web.AppKey("jobs", set)
SHERLOCK = web.AppKey("sherlock", "SherlockService")
STATUS = web.AppKey("status", list)
"""[monotonic time, counts] of the last status computation (a short cache)."""
TOKENS = web.AppKey("tokens", "ApiTokens")
"""Derives the API tokens shown to their owners (:class:`web.security.ApiTokens`)."""
SESSION = web.RequestKey("session", dict)
"""The request's session dict (CSRF token, user id)."""
USER = web.RequestKey("user", object)
"""The logged-in :class:`web.accounts.User` of a page request, or None."""
