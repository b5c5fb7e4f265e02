"""API authentication and hourly rate limits.

Requests carry ``Authorization: Token <key>`` (or ``?token=<key>``); without a token a
request is anonymous and counted per client address.  Calls are counted per subject
and clock hour in ``web_rate_limits`` with one atomic upsert, so every web process
shares the counters; limits per class are in :data:`web.config.HOURLY_LIMITS`.
"""
from __future__ import annotations

import re
import time

from aiohttp import web

from web import accounts, db
from web.accounts import User
from web.config import HOURLY_LIMITS, SERVICES
from solas import metrics
from web.forms import TooManyRequests, Unauthorized
from web.metrics import route_name

TOKEN_HEADER = re.compile(r"(?i)\s*token\s+([0-9a-fA-F]{16,64})\s*")


def hour_of(seconds: float) -> int:
    """Clock hour (hours since 1970-01-01 UTC)."""
    return int(seconds // 3600)


async def token_user(request: web.Request) -> User | None:
    """The user of the request's API token, None without a token; Unauthorized for a
    malformed or unknown token."""
    header = request.headers.get("Authorization")
    token = request.query.get("token")
    if header is not None:
        match = TOKEN_HEADER.fullmatch(header)
        if match is None:
            raise Unauthorized("the Authorization header must be 'Token <key>'")
        token = match[1]
    if token is None:
        return None
    user = await accounts.user_by_token(request.app[SERVICES].db, token)
    if user is None:
        raise Unauthorized("invalid token")
    return user


async def count_call(pool, subject: str, now: float | None = None) -> int:
    """Count one call of ``subject`` in the current hour; returns the hour's total."""
    hour = hour_of(time.time() if now is None else now)
    await db.execute(pool, "INSERT INTO web_rate_limits (subject, hour, calls) "
                           "VALUES (%s, %s, 1) ON DUPLICATE KEY UPDATE calls = calls + 1",
                     (subject, hour))
    return int(await db.fetch_value(pool, "SELECT calls FROM web_rate_limits "
                                          "WHERE subject=%s AND hour=%s", (subject, hour)))


async def calls_this_hour(pool, subject: str) -> int:
    """Calls of ``subject`` counted in the current hour."""
    value = await db.fetch_value(pool, "SELECT calls FROM web_rate_limits WHERE subject=%s "
                                       "AND hour=%s", (subject, hour_of(time.time())))
    return int(value or 0)


MAX_FAILED_LOGINS = 30
"""Failed logins (page or /api/auth-token/) allowed per client address and hour."""


async def check_login_allowed(request: web.Request) -> None:
    """TooManyRequests once an address has failed too many logins this hour."""
    subject = f"login-fail:{request.remote}"
    if await calls_this_hour(request.app[SERVICES].db, subject) >= MAX_FAILED_LOGINS:
        raise TooManyRequests("too many failed logins from your address: try again in an "
                              "hour")


async def count_failed_login(request: web.Request) -> None:
    """Count one failed login of the request's address."""
    await count_call(request.app[SERVICES].db, f"login-fail:{request.remote}")


async def forget_old_counts(pool, keep_hours: int = 24) -> None:
    """Drop counters older than ``keep_hours``."""
    await db.execute(pool, "DELETE FROM web_rate_limits WHERE hour < %s",
                     (hour_of(time.time()) - keep_hours,))


def user_class(user: User | None) -> str:
    """The class whose limits apply (anonymous without a token)."""
    return user.user_class if user is not None else "anonymous"


async def api_caller(request: web.Request, *, token_required: bool = False) -> User | None:
    """Authenticate an API request and count it against the hourly limit.

    Raises Unauthorized (bad or, when required, missing token) or TooManyRequests."""
    user = await token_user(request)
    if user is None and token_required:
        raise Unauthorized("this endpoint needs an API token: send the header "
                           "'Authorization: Token <key>' (see your profile page)")
    subject = f"user:{user.id}" if user else f"ip:{request.remote}"
    limit = HOURLY_LIMITS[user_class(user)]
    calls = await count_call(request.app[SERVICES].db, subject)
    if calls > limit:
        metrics.API_RATE_LIMITED.labels(route_name(request), user_class(user)).inc()
        raise TooManyRequests(f"Request limit exceeded: {limit} calls per hour for "
                              f"{user_class(user)} users. Either wait an hour, or ask for "
                              "a higher user class.")
    return user
