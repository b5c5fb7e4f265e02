"""Middlewares: errors (HTML pages, JSON on /api/), sessions and CSRF.

Every visitor has a signed session cookie holding a CSRF token (and, once logged in,
the user id).  Unsafe requests to pages must echo the token: a ``csrf_token`` form
field, an ``X-CSRF-Token`` header (the portal's scripts) or a ``csrf_token`` query
parameter (multipart upload forms, so the upload can stream).  The REST API under
/api/ authenticates with tokens, never cookies, so it needs no CSRF check.
"""
from __future__ import annotations

import logging

import aiohttp_jinja2
import orjson
from aiohttp import web

from web import accounts
from web.config import CONFIG, SERVICES, SESSION, SIGNER, USER
from web.forms import Problem
from web.queries import json_value
from web.security import csrf_matches, new_csrf_token

log = logging.getLogger("solas.web")
COOKIE = "solas_session"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
REASONS = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found",
           405: "Method not allowed", 413: "Upload too large",
           429: "Too many requests", 500: "Server error"}


def is_api(request: web.Request) -> bool:
    """True for the REST API (JSON errors, token auth)."""
    return request.path.startswith("/api/") or request.path == "/api"


def json_response(data, status: int = 200, headers: dict | None = None) -> web.Response:
    """A JSON response (orjson: 64-bit integers stay exact)."""
    return web.Response(body=orjson.dumps(data, default=json_value,
                                          option=orjson.OPT_NON_STR_KEYS),
                        status=status, content_type="application/json", headers=headers)


def api_error(status: int, message: str) -> web.Response:
    """The JSON body the lasair client expects: 429 {"message"}, others {"error"}."""
    body = {"message": message} if status == 429 else {"error": message}
    headers = {"Retry-After": "3600"} if status == 429 else None
    return json_response(body, status, headers)


def page_error(request: web.Request, status: int, message: str) -> web.Response:
    """The HTML error page."""
    context = {"status": status, "reason": REASONS.get(status, "Error"),
               "message": message}
    return aiohttp_jinja2.render_template("error.html", request, context, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler):
    """Render Problems and HTTP errors as JSON on /api/ and as pages elsewhere."""
    try:
        return await handler(request)
    except Problem as problem:
        status, message = problem.status, problem.message
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        status, message = exc.status, exc.text or exc.reason
        if status == 413:
            message = "the request body is too large"
    except Exception:  # a bug: log it, answer 500
        log.exception("error handling %s %s", request.method, request.path)
        status, message = 500, "internal server error"
    if is_api(request):
        return api_error(status, message)
    return page_error(request, status, message)


@web.middleware
async def session_middleware(request: web.Request, handler):
    """Load the session (user, CSRF token); re-sign the cookie when it changed."""
    signer = request.app[SIGNER]
    session = signer.loads(request.cookies.get(COOKIE)) if not is_api(request) else None
    fresh = session is None
    session = session or {"csrf": new_csrf_token()}
    request[SESSION] = session
    request[USER] = None
    if not is_api(request) and session.get("uid") is not None:
        request[USER] = await accounts.user_by_id(request.app[SERVICES].db, session["uid"])
        if request[USER] is None:
            session.pop("uid", None)
    before = dict(session)

    def store(response: web.StreamResponse) -> None:
        if not is_api(request) and (fresh or session != before) and not response.prepared:
            config = request.app[CONFIG]
            response.set_cookie(COOKIE, signer.dumps(session), httponly=True,
                                samesite="Lax", secure=config.secure_cookies, path="/",
                                max_age=config.session_days * 86400)

    try:
        response = await handler(request)
    except web.HTTPException as exc:  # redirects after login and logout carry the cookie
        store(exc)
        raise
    store(response)
    return response


@web.middleware
async def csrf_middleware(request: web.Request, handler):
    """Refuse unsafe page requests that do not carry the session's CSRF token."""
    if request.method in SAFE_METHODS or is_api(request):
        return await handler(request)
    expected = request[SESSION].get("csrf")
    given = request.headers.get("X-CSRF-Token") or request.query.get("csrf_token")
    if not given and request.content_type == "application/x-www-form-urlencoded":
        given = (await request.post()).get("csrf_token")
    if not csrf_matches(expected, given):
        raise Problem("the form's security token is missing or out of date: reload the "
                      "page and submit again", 403)
    return await handler(request)


#: The portal's pages load scripts, styles, images and data only from itself (no inline
#: script or style, no plugins, no framing, forms post only here); live.js opens its
#: WebSocket on the same host ('self' covers ws:/wss: there).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "same-origin",
                    "Content-Security-Policy": CONTENT_SECURITY_POLICY}
#: Sent over TLS only (RFC 6797 ignores it on plain http): one year, subdomains too.
HSTS = "max-age=31536000; includeSubDomains"


def served_over_tls(request: web.Request) -> bool:
    """True if the client reached the portal over https: directly, or through a proxy
    of a deployment that declares it (``WebConfig.secure_cookies``)."""
    return request.secure or request.app[CONFIG].secure_cookies


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: a Content-Security-Policy, no framing (clickjacking), no
    MIME sniffing, no cross-site referrer, and HSTS when served over TLS."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if served_over_tls(request):
        response.headers.setdefault("Strict-Transport-Security", HSTS)


def login(request: web.Request, user_id: int) -> None:
    """Bind the session to a user (new CSRF token: no session fixation)."""
    request[SESSION].clear()
    request[SESSION].update({"uid": user_id, "csrf": new_csrf_token()})


def logout(request: web.Request) -> None:
    """Forget the session's user."""
    request[SESSION].clear()
    request[SESSION]["csrf"] = new_csrf_token()
