"""The portal's pages: home, accounts, search, objects, filters, watchlists, watchmaps,
annotators, live feed, status and schema."""
from __future__ import annotations

import asyncio
import csv
import datetime
import io
import math
import re
import time
from urllib.parse import urlsplit

import aiohttp_jinja2
import jinja2
import orjson
from aiohttp import web

from solas.filters import FilterError
from solas.filters.build import INT64_MAX
from solas.kafka_access import KafkaAccess, consumer_config
from solas.schema.reference import reference_tables
from solas.skymatch import parse_dec, parse_ra
from solas.topics import LIVE as LIVE_TOPIC, INGESTED, SHERLOCKED, end_offsets, stage_topic
from web import accounts, annotations, db, filters, forms, jobs, kafka, objects, sky, \
    watchlists, watchmaps
from web.config import (CONFIG, HOURLY_LIMITS, LIVE, PAGE_ROWS, ROW_CAPS, SERVICES, SESSION,
                        SETTINGS, STATUS, TOKENS, USER, USER_CLASSES)
from web.forms import BadRequest, Forbidden, NotFound
from web.images import ImageError, zscale_png
from web.lightcurves import CUTOUT_TYPES
from web.middleware import json_response, login, logout
from web.queries import QueryError, compile_for, json_value, run_filter
from web.ratelimit import check_login_allowed, count_failed_login
from web.security import is_http_url, local_path
from web.uploads import read_multipart

routes = web.RouteTableDef()
JS_SAFE_INTEGER = 2**53 - 1


# ------------------------------------------------------------------ helpers

async def context_processor(request: web.Request) -> dict:
    """Variables of every template."""
    settings = request.app[SETTINGS]
    return {"user": request.get(USER), "csrf": request.get(SESSION, {}).get("csrf", ""),
            "survey": settings.survey, "id_column": sky.ID_COLUMNS[settings.survey]}


def _fmt(value, digits: int = 5):
    if value is None:
        return ""
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        return f"{value:.{digits}g}" if abs(value) < 1e5 else f"{value:.{digits + 3}g}"
    return value


def setup_filters(env: jinja2.Environment) -> None:
    """Template filters."""
    env.filters["fmt"] = _fmt
    env.filters["http_link"] = lambda url: url if url and is_http_url(url) else ""
    env.filters["tojson_exact"] = lambda v: jinja2.utils.markupsafe.Markup(
        orjson.dumps(v, default=json_value).decode().replace("<", "\\u003c")
        .replace(">", "\\u003e").replace("&", "\\u0026"))


def _user(request: web.Request):
    return request.get(USER)


def _uid(request: web.Request) -> int | None:
    user = _user(request)
    return user.id if user is not None else None


def _require_user(request: web.Request):
    user = _user(request)
    if user is None:
        raise web.HTTPFound(str(request.app.router["login"].url_for().with_query(
            next=request.path_qs)))
    return user


def _url(request: web.Request, name: str, **parts) -> str:
    return str(request.app.router[name].url_for(**{k: str(v) for k, v in parts.items()}))


async def _form(request: web.Request) -> dict:
    return await forms.request_params(request, request.app[CONFIG].max_form_bytes)


def _pool(request: web.Request):
    return request.app[SERVICES].db


def _object_id(request: web.Request, value: str):
    try:
        return forms.object_id(request.app[SETTINGS].survey, value)
    except BadRequest:
        raise NotFound(f"{value!r} is not an object id of this survey") from None


# ------------------------------------------------------------- home, status

STATUS_TTL_S = 5.0
EXACT_COUNT_BELOW = 1_000_000


async def _count(pool, table: str, where: str = "", args: tuple = ()) -> int:
    """Rows of a table: exact when small, InnoDB's estimate for big tables."""
    if not where:
        estimate = await db.fetch_value(
            pool, "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE "
                  "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s", (table,))
        if estimate is not None and estimate >= EXACT_COUNT_BELOW:
            return int(estimate)
    return int(await db.fetch_value(pool, f"SELECT COUNT(*) FROM {table} {where}", args))


async def _topic_sizes(settings) -> dict:
    sizes = {}
    for topic in (settings.raw_topic, *(stage_topic(settings, t)
                                        for t in (INGESTED, SHERLOCKED, LIVE_TOPIC))):
        try:
            offsets = await asyncio.wait_for(end_offsets(settings, topic), 5.0)
            sizes[topic] = sum(offsets.values())
        except Exception:  # Kafka unreachable: show what is known
            sizes[topic] = None
    return sizes


async def status_counts(app: web.Application) -> dict:
    """Live counts for the home and status pages (recomputed at most every 5 s)."""
    cached = app[STATUS]
    if cached and time.monotonic() - cached[0] < STATUS_TTL_S:
        return cached[1]
    pool = app[SERVICES].db
    settings = app[SETTINGS]
    time_column = {"lsst": "lastDiaSourceMjdTai", "ztf": "jdmax"}[settings.survey]
    day_ago = time.time() / 86400.0 + 40587.0 - 1.0  # MJD
    if settings.survey == "ztf":
        day_ago += 2400000.5  # JD
    counts = {
        "objects": await _count(pool, "objects"),
        "objects_24h": await _count(pool, "objects", f"WHERE {time_column} > %s",
                                    (day_ago,)),
        # public items only: a visitor must not learn how many private ones others have
        "active_filters": await _count(pool, "filters", "WHERE run > 0 AND public"),
        "filters": await _count(pool, "filters", "WHERE public"),
        "watchlists": await _count(pool, "watchlists", "WHERE public"),
        "watchmaps": await _count(pool, "watchmaps", "WHERE public"),
        "annotations": await _count(pool, "annotations"),
        "users": await _count(pool, "users"),
        "topics": await _topic_sizes(settings),
        "live_clients": len(app[LIVE].subscribers),
        "live_delivered": app[LIVE].delivered,
        "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    app[STATUS][:] = [time.monotonic(), counts]
    return counts


#: The counts of :func:`status_counts` that are of items users own (public ones there).
OWN_COUNTS = {"active_filters": ("filters", "run > 0"), "filters": ("filters", "TRUE"),
              "watchlists": ("watchlists", "TRUE"), "watchmaps": ("watchmaps", "TRUE")}


async def counts_for(request: web.Request) -> dict:
    """:func:`status_counts` as the visitor may see them: public items, plus the
    visitor's own private ones when logged in."""
    counts = await status_counts(request.app)
    uid = _uid(request)
    if uid is None:
        return counts
    mine = dict(counts)
    for key, (table, where) in OWN_COUNTS.items():
        mine[key] = counts[key] + int(await db.fetch_value(
            _pool(request), f"SELECT COUNT(*) FROM {table} WHERE user = %s AND NOT public "
                            f"AND {where}", (uid,)))
    return mine


@routes.get("/", name="home")
@aiohttp_jinja2.template("home.html")
async def home(request: web.Request) -> dict:
    """Home: live counts and where to start."""
    return {"counts": await counts_for(request)}


@routes.get("/status", name="status")
@aiohttp_jinja2.template("status.html")
async def status(request: web.Request) -> dict:
    """Counts of everything, refreshed live."""
    return {"counts": await counts_for(request)}


@routes.get("/status.json", name="status_json")
async def status_json(request: web.Request) -> web.Response:
    """The counts as JSON (the pages poll it)."""
    return json_response(await counts_for(request))


def schema_tables(survey: str) -> list[dict]:
    """The tables filters can use, with their columns and definitions, from the column
    specs (:func:`solas.schema.reference.reference_tables`)."""
    return reference_tables(survey)


@routes.get("/schema", name="schema")
@aiohttp_jinja2.template("schema.html")
async def schema(request: web.Request) -> dict:
    """Every queryable table and column (generated from the column specs)."""
    return {"tables": schema_tables(request.app[SETTINGS].survey)}


@routes.get("/schema.json", name="schema_json")
async def schema_json(request: web.Request) -> web.Response:
    """The schema for the builder's browser and autocompletion."""
    return json_response({"tables": schema_tables(request.app[SETTINGS].survey)})


@routes.get("/api", name="api_docs")
@aiohttp_jinja2.template("api.html")
async def api_docs(request: web.Request) -> dict:
    """How to use the REST API."""
    return {"base": request.app[SETTINGS].web_public_url.rstrip("/") + "/api"}


# ------------------------------------------------------------------ accounts

@routes.route("*", "/register", name="register")
@aiohttp_jinja2.template("register.html")
async def register(request: web.Request) -> dict:
    """Create an account (class 'user') and log in."""
    if request.method != "POST":
        return {}
    form = await _form(request)
    values = {k: str(form.get(k, "")) for k in ("username", "email")}
    try:
        if form.get("password") != form.get("password2"):
            raise accounts.AccountError("the two passwords differ")
        user_id = await accounts.create_user(_pool(request), values["username"],
                                             values["email"], str(form.get("password", "")))
    except accounts.AccountError as err:
        return {"error": str(err), **values}
    login(request, user_id)
    raise web.HTTPSeeOther(_url(request, "profile"))


@routes.route("*", "/login", name="login")
@aiohttp_jinja2.template("login.html")
async def login_page(request: web.Request) -> dict:
    """Log in with name and password."""
    target = local_path(request.query.get("next", "/"))
    if request.method != "POST":
        return {"next": target}
    form = await _form(request)
    await check_login_allowed(request)
    user = await accounts.authenticate(_pool(request), str(form.get("username", "")),
                                       str(form.get("password", "")))
    if user is None:
        await count_failed_login(request)
        return {"error": "unknown user name or wrong password", "next": target,
                "username": form.get("username", "")}
    login(request, user.id)
    raise web.HTTPSeeOther(target)


@routes.post("/logout", name="logout")
async def logout_page(request: web.Request) -> web.Response:
    """Log out."""
    logout(request)
    raise web.HTTPSeeOther("/")


async def _profile(request: web.Request, new_kafka: dict | None = None) -> dict:
    user = _require_user(request)
    settings = request.app[SETTINGS]
    try:
        access = kafka.access(settings, user.username)
    except BadRequest as err:
        access = {"error": err.message}
    return {"tokens": await accounts.tokens_of(_pool(request), request.app[TOKENS], user.id),
            "limit": HOURLY_LIMITS[user.user_class], "rows": ROW_CAPS[user.user_class],
            "base": settings.web_public_url.rstrip("/") + "/api", "kafka": access,
            "kafka_ready": (await kafka.has_credentials(settings, user.username)
                            if new_kafka is None and "error" not in access else None),
            "new_kafka": new_kafka}


@routes.get("/profile", name="profile")
@aiohttp_jinja2.template("profile.html")
async def profile(request: web.Request) -> dict:
    """The user's class, limits, API tokens and Kafka credentials."""
    return await _profile(request)


@routes.post("/profile/kafka", name="profile_kafka")
@aiohttp_jinja2.template("profile.html")
async def profile_kafka(request: web.Request) -> dict:
    """Create or rotate the user's Kafka credentials; the password is shown this once
    (this response is not a redirect, so it is not kept anywhere)."""
    user = _require_user(request)
    return await _profile(request, await kafka.rotate(request.app[SETTINGS], user.username))


@routes.post("/profile/tokens", name="tokens")
async def tokens(request: web.Request) -> web.Response:
    """Create or revoke an API token."""
    user = _require_user(request)
    form = await _form(request)
    if form.get("revoke"):
        await accounts.delete_token(_pool(request), user.id, str(form["revoke"]))
    else:
        await accounts.create_token(_pool(request), request.app[TOKENS], user.id)
    raise web.HTTPSeeOther(_url(request, "profile"))


@routes.route("*", "/admin/users", name="admin_users")
@aiohttp_jinja2.template("admin_users.html")
async def admin_users(request: web.Request) -> dict:
    """Admins change user classes and roles."""
    user = _require_user(request)
    if not user.is_admin:
        raise Forbidden("admins only")
    pool = _pool(request)
    if request.method == "POST":
        form = await _form(request)
        await accounts.set_class(pool, forms.integer(form, "user_id"),
                                 forms.choice(form, "user_class", USER_CLASSES, "user"),
                                 forms.boolean(form, "is_admin", False))
    users = await db.fetch_all(pool, "SELECT id, username, email, user_class, is_admin, "
                                     "created FROM users ORDER BY id")
    return {"users": users, "classes": USER_CLASSES}


# ------------------------------------------------------------------- search

CONE = re.compile(r"\s*([0-9.:hms\s+-]+?)[\s,]+([+\-]?[0-9.:dms'\"\s]+?)(?:[\s,]+([0-9.]+))?\s*")


@routes.get("/search", name="search")
@aiohttp_jinja2.template("search.html")
async def search(request: web.Request) -> dict:
    """Search by object id, TNS name or cone 'ra dec [radius arcsec]'."""
    q = request.query.get("q", "").strip()
    survey = request.app[SETTINGS].survey
    if not q:
        return {"q": q}
    try:
        object_id = forms.object_id(survey, q)
    except BadRequest:
        object_id = None
    pool = _pool(request)
    if object_id is not None and (await objects.object_row(pool, survey, object_id) or
                                  await objects.solar_system_row(pool, survey, object_id)):
        raise web.HTTPFound(_url(request, "object", id=object_id))
    tns = re.sub(r"(?i)^\s*(sn|at|tns)\s*", "", q)
    if re.fullmatch(r"(19|20)\d\d[a-z]{1,4}", tns):
        rows = await db.fetch_all(pool, f"SELECT {sky.ID_COLUMNS[survey]} AS object_id FROM "
                                        "objects WHERE tns_name=%s LIMIT 50", (tns,))
        if len(rows) == 1:
            raise web.HTTPFound(_url(request, "object", id=rows[0]["object_id"]))
        return {"q": q, "results": [{"object_id": r["object_id"]} for r in rows],
                "what": f"TNS name {tns}"}
    match = CONE.fullmatch(q)
    if match:
        try:
            ra, dec = parse_ra(match[1]), parse_dec(match[2])
            radius = min(float(match[3] or 10.0), request.app[CONFIG].max_cone_radius_arcsec)
        except ValueError as err:
            return {"q": q, "error": str(err)}
        found = await sky.cone_search(pool, survey, ra, dec, radius)
        return {"q": q, "what": f"cone ra={ra:.5f} dec={dec:+.5f} radius={radius:g}\"",
                "results": [{"object_id": oid, "separation": sep} for oid, sep in
                            zip(found.object_id, found.separation_arcsec.tolist())]}
    return {"q": q, "error": "not a stored object id, a TNS name (e.g. 2024abc) or a cone "
                             "(ra dec [radius arcsec])", "results": []}


# ------------------------------------------------------------------- objects

@routes.get("/objects/{id}", name="object")
@aiohttp_jinja2.template("object.html")
async def object_page(request: web.Request) -> dict:
    """Light curve, features, context, hits, annotations and cutouts of an object."""
    survey = request.app[SETTINGS].survey
    object_id = _object_id(request, request.match_info["id"])
    services = request.app[SERVICES]
    info = await objects.context(services.db, survey, object_id, _uid(request))
    if info is None:
        ss = await objects.solar_system(services.db, services.cassandra, survey, object_id)
        if ss is None:
            raise NotFound(f"object {object_id} is not stored")
        return await _solar_system_page(request, ss)
    lc = await objects.light_curve(services.cassandra, survey, object_id)
    cutouts = {}
    if lc["latest_source"] is not None:
        stored = await services.cassandra.cutouts(lc["latest_source"])
        cutouts = {kind: _url(request, "cutout", id=object_id, source=lc["latest_source"],
                              kind=kind) for kind in CUTOUT_TYPES if kind in stored}
    return {"info": info, "points": lc["points"], "cutouts": cutouts,
            "object_id": object_id, "latest_source": lc["latest_source"],
            "features": {k: v for k, v in info["object"].items()
                         if v is not None and not isinstance(v, (bytes, bytearray))}}


async def _solar_system_page(request: web.Request, ss: dict) -> web.Response:
    """The page of a solar-system object (an ssObjectId): designation, orbit, latest
    geometry and photometry, its detections and the latest detection's cutouts."""
    cutouts = {}
    if ss["latest_source"] is not None:
        stored = await request.app[SERVICES].cassandra.cutouts(ss["latest_source"])
        cutouts = {kind: _url(request, "cutout", id=ss["object_id"],
                              source=ss["latest_source"], kind=kind)
                   for kind in CUTOUT_TYPES if kind in stored}
    features = {k: v for k, v in ss["object"].items()
                if v is not None and not isinstance(v, (bytes, bytearray))}
    return aiohttp_jinja2.render_template("ss_object.html", request, {
        "info": ss, "points": ss["points"], "cutouts": cutouts,
        "object_id": ss["object_id"], "latest_source": ss["latest_source"],
        "features": features})


@routes.get("/objects/{id}/cutouts/{source:\\d+}/{kind}.png", name="cutout")
async def cutout(request: web.Request) -> web.Response:
    """A cutout stamp as PNG (zscale)."""
    object_id = _object_id(request, request.match_info["id"])
    kind = request.match_info["kind"]
    if kind not in CUTOUT_TYPES:
        raise NotFound(f"no cutout type {kind}")
    digits = request.match_info["source"].lstrip("0") or "0"
    # not a source id (Cassandra would refuse it; int() refuses over 4,300 digits)
    if len(digits) > len(str(INT64_MAX)) or int(digits) > INT64_MAX:
        raise NotFound("no such cutout (a source id is a 64-bit integer)")
    source = int(digits)
    stamps = await request.app[SERVICES].cassandra.cutouts(source)
    stamp = stamps.get(kind)
    if stamp is None or stamp.get("objectId") != str(object_id):
        raise NotFound("no such cutout (they expire after a while)")
    try:
        png = await asyncio.get_running_loop().run_in_executor(None, zscale_png,
                                                               stamp["stamp"], 240)
    except ImageError as err:
        raise NotFound(f"cutout unreadable: {err}") from None
    return web.Response(body=png, content_type="image/png",
                        headers={"Cache-Control": "max-age=86400"})


@routes.get("/objects/{id}/lightcurve.json", name="lightcurve")
async def lightcurve_json(request: web.Request) -> web.Response:
    """Plot points of the light curve."""
    survey = request.app[SETTINGS].survey
    object_id = _object_id(request, request.match_info["id"])
    lc = await objects.light_curve(request.app[SERVICES].cassandra, survey, object_id)
    return json_response({"points": lc["points"]})


# ------------------------------------------------------------------- filters

@routes.get("/filters", name="filters")
@aiohttp_jinja2.template("filters.html")
async def filter_list(request: web.Request) -> dict:
    """The user's filters and the public ones."""
    return {"filters": await filters.list_filters(_pool(request), _uid(request)),
            "runs": filters.RUN_MODES, "outputs": filters.OUTPUT_MODES}


def _builder(request: web.Request, row: dict | None, **extra) -> dict:
    settings = request.app[SETTINGS]
    topic = row.get("topic_name") if row else None
    public = bool(row.get("public")) if row else False
    owner = kafka.owner_kafka_user(row.get("owner")) if row else None
    private = consumer_config(KafkaAccess(
        settings.kafka_users, settings.kafka_public, settings.kafka_users_security_protocol,
        settings.kafka_users_sasl_mechanism, owner or "YOUR_KAFKA_USERNAME"),
        password="YOUR_KAFKA_PASSWORD")
    snippet = filters.consumer_snippet(topic, public, settings.kafka_public,
                                       private) if topic else ""
    return {"filter": row, "runs": filters.RUN_MODES, "outputs": filters.OUTPUT_MODES,
            "topic": topic, "snippet": snippet, "public_topic": public,
            "kafka": settings.kafka_public if public else settings.kafka_users,
            "page_rows": PAGE_ROWS, **extra}


@routes.get("/filters/new", name="filter_new")
async def filter_new(request: web.Request) -> web.Response:
    """The filter builder."""
    row = None
    if "selected" in request.query:  # e.g. from the schema page
        row = {k: request.query.get(k, "") for k in ("selected", "tables", "conditions")}
    return aiohttp_jinja2.render_template("filter.html", request, _builder(request, row))


@routes.get("/filters/{id:\\d+}", name="filter")
async def filter_page(request: web.Request) -> web.Response:
    """A filter in the builder, with its topic and consumer snippet."""
    row = await filters.visible_filter(_pool(request), int(request.match_info["id"]),
                                       _uid(request))
    return aiohttp_jinja2.render_template("filter.html", request, _builder(request, row))


@routes.post("/filters/run", name="filter_run")
async def filter_run(request: web.Request) -> web.Response:
    """Run the builder's filter on the stored database (at most 1,000 rows)."""
    form = await _form(request)
    services = request.app[SERVICES]
    started = time.perf_counter()
    try:
        compiled = await compile_for(services.db, request.app[SETTINGS].survey,
                                     str(form.get("selected", "")),
                                     str(form.get("tables", "") or "objects"),
                                     str(form.get("conditions", "")), _uid(request))
        result = await run_filter(services.readonly, compiled, limit=PAGE_ROWS)
    except (FilterError, QueryError) as err:
        return json_response({"error": str(err)})
    rows = [[str(v) if isinstance(v, int) and abs(v) > JS_SAFE_INTEGER else v for v in row]
            for row in result.rows]  # JavaScript numbers cannot hold 64-bit ids
    return json_response({"columns": result.columns, "rows": rows,
                          "seconds": round(time.perf_counter() - started, 3),
                          "limited": len(result.rows) >= PAGE_ROWS,
                          "object_key": compiled.object_id})


@routes.post("/filters/save", name="filter_save")
async def filter_save(request: web.Request) -> web.Response:
    """Save the builder's filter (new, or the user's own ``id``)."""
    user = _require_user(request)
    form = await _form(request)
    filter_id = forms.integer(form, "id", 0)
    pool = _pool(request)
    existing = await filters.owned_filter(pool, filter_id, user.id) if filter_id else None
    try:
        data = filters.filter_input(form, existing)
        saved = await filters.save_filter(pool, request.app[SETTINGS], user.id, data,
                                          filter_id or None)
    except (FilterError, BadRequest) as err:
        row = {**(existing or {}), **{k: form.get(k) for k in (
            "name", "description", "selected", "tables", "conditions")},
            "public": forms.boolean(form, "public", False),
            "run": int(form.get("run") or 0), "output": int(form.get("output") or 0),
            "id": filter_id or None}
        return aiohttp_jinja2.render_template("filter.html", request, _builder(
            request, row, error=str(err.message if isinstance(err, BadRequest) else err)),
            status=400)
    raise web.HTTPSeeOther(_url(request, "filter", id=saved["id"]))


@routes.post("/filters/{id:\\d+}/copy", name="filter_copy")
async def filter_copy(request: web.Request) -> web.Response:
    """Copy a public filter into the user's own (private, inactive)."""
    user = _require_user(request)
    try:
        saved = await filters.copy_filter(_pool(request), request.app[SETTINGS],
                                          int(request.match_info["id"]), user.id)
    except FilterError as err:
        raise BadRequest(f"this filter cannot be copied: {err}") from None
    raise web.HTTPSeeOther(_url(request, "filter", id=saved["id"]))


@routes.post("/filters/{id:\\d+}/delete", name="filter_delete")
async def filter_delete(request: web.Request) -> web.Response:
    """Delete one of the user's filters."""
    user = _require_user(request)
    await filters.delete_filter(_pool(request), request.app[SETTINGS],
                                int(request.match_info["id"]), user.id)
    raise web.HTTPSeeOther(_url(request, "filters"))


# ---------------------------------------------------------------- watchlists

@routes.get("/watchlists", name="watchlists")
@aiohttp_jinja2.template("watchlists.html")
async def watchlist_list(request: web.Request) -> dict:
    """The user's and public watchlists, and the upload form."""
    return {"watchlists": await watchlists.list_visible(_pool(request), _uid(request))}


@routes.post("/watchlists", name="watchlist_upload")
async def watchlist_upload(request: web.Request) -> web.Response:
    """Upload a watchlist CSV (streamed); loading and crossmatch continue with progress."""
    user = _require_user(request)
    app = request.app
    upload = await read_multipart(request, "file", app[CONFIG].max_watchlist_bytes)
    if upload.path is None:
        raise BadRequest("choose a CSV file of cones (name, ra, dec[, radius])")
    wl_id = await watchlists.create_and_load(app, user.id, upload.fields, path=upload.path)
    raise web.HTTPSeeOther(_url(request, "watchlist", id=wl_id))


@routes.get("/watchlists/{id:\\d+}", name="watchlist")
@aiohttp_jinja2.template("watchlist.html")
async def watchlist_page(request: web.Request) -> dict:
    """A watchlist: progress, settings and hits."""
    pool = _pool(request)
    wl_id = int(request.match_info["id"])
    row = await watchlists.visible(pool, wl_id, _uid(request))
    return {"wl": row, "progress": await jobs.progress(pool, "watchlist", wl_id),
            "hits": await watchlists.hits(pool, wl_id, sky.ID_COLUMNS[
                request.app[SETTINGS].survey], limit=PAGE_ROWS)}


@routes.get("/watchlists/{id:\\d+}/progress.json", name="watchlist_progress")
async def watchlist_progress(request: web.Request) -> web.Response:
    """Loading and crossmatch progress."""
    pool = _pool(request)
    wl_id = int(request.match_info["id"])
    await watchlists.visible(pool, wl_id, _uid(request))
    return json_response(await jobs.progress(pool, "watchlist", wl_id))


@routes.get("/watchlists/{id:\\d+}/hits.csv", name="watchlist_hits_csv")
async def watchlist_hits_csv(request: web.Request) -> web.StreamResponse:
    """Every hit of a watchlist as CSV."""
    pool = _pool(request)
    wl_id = int(request.match_info["id"])
    await watchlists.visible(pool, wl_id, _uid(request))
    rows = await watchlists.hits(pool, wl_id, sky.ID_COLUMNS[request.app[SETTINGS].survey])
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["object_id", "cone_id", "name", "arcsec"])
    writer.writerows([r["object_id"], r["cone_id"], r["name"], r["arcsec"]] for r in rows)
    return web.Response(text=out.getvalue(), content_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="watchlist-{wl_id}-hits.csv"'})


@routes.post("/watchlists/{id:\\d+}/edit", name="watchlist_edit")
async def watchlist_edit(request: web.Request) -> web.Response:
    """Change a watchlist's settings."""
    user = _require_user(request)
    pool = _pool(request)
    wl_id = int(request.match_info["id"])
    row = await watchlists.owned(pool, wl_id, user.id)
    form = await _form(request)
    form.setdefault("public", "0")
    form.setdefault("active", "0")
    fields = watchlists.watchlist_fields(form, row)
    await watchlists.update(pool, request.app[SERVICES].producer, wl_id, user.id, fields)
    raise web.HTTPSeeOther(_url(request, "watchlist", id=wl_id))


@routes.post("/watchlists/{id:\\d+}/delete", name="watchlist_delete")
async def watchlist_delete(request: web.Request) -> web.Response:
    """Delete a watchlist."""
    user = _require_user(request)
    wl_id = int(request.match_info["id"])
    await watchlists.owned(_pool(request), wl_id, user.id)
    await jobs.cancel(request.app, f"watchlist-{wl_id}")
    await watchlists.delete(_pool(request), request.app[SERVICES].producer, wl_id, user.id)
    raise web.HTTPSeeOther(_url(request, "watchlists"))


# ----------------------------------------------------------------- watchmaps

@routes.get("/watchmaps", name="watchmaps")
@aiohttp_jinja2.template("watchmaps.html")
async def watchmap_list(request: web.Request) -> dict:
    """The user's and public watchmaps, and the upload form."""
    return {"watchmaps": await watchmaps.list_visible(_pool(request), _uid(request))}


@routes.post("/watchmaps", name="watchmap_upload")
async def watchmap_upload(request: web.Request) -> web.Response:
    """Upload a MOC or a GW sky map."""
    user = _require_user(request)
    app = request.app
    upload = await read_multipart(request, "file", app[CONFIG].max_watchmap_bytes)
    if upload.path is None:
        raise BadRequest("choose a MOC FITS file or a HEALPix sky map")
    ar_id, _ = await watchmaps.create_and_crossmatch(app, user.id, upload)
    raise web.HTTPSeeOther(_url(request, "watchmap", id=ar_id))


@routes.get("/watchmaps/{id:\\d+}", name="watchmap")
@aiohttp_jinja2.template("watchmap.html")
async def watchmap_page(request: web.Request) -> dict:
    """A watchmap: preview, area, settings and hits."""
    pool = _pool(request)
    ar_id = int(request.match_info["id"])
    row = await watchmaps.visible(pool, ar_id, _uid(request))
    return {"wm": row, "progress": await jobs.progress(pool, "watchmap", ar_id),
            "hits": await watchmaps.hits(pool, ar_id, sky.ID_COLUMNS[
                request.app[SETTINGS].survey], limit=PAGE_ROWS)}


@routes.get("/watchmaps/{id:\\d+}/preview.png", name="watchmap_preview")
async def watchmap_preview(request: web.Request) -> web.Response:
    """The watchmap's sky preview."""
    pool = _pool(request)
    ar_id = int(request.match_info["id"])
    await watchmaps.visible(pool, ar_id, _uid(request))
    png = await watchmaps.preview(pool, ar_id)
    if not png:
        raise NotFound("no preview")
    return web.Response(body=png, content_type="image/png")


@routes.post("/watchmaps/{id:\\d+}/edit", name="watchmap_edit")
async def watchmap_edit(request: web.Request) -> web.Response:
    """Change a watchmap's settings."""
    user = _require_user(request)
    pool = _pool(request)
    ar_id = int(request.match_info["id"])
    row = await watchmaps.owned(pool, ar_id, user.id)
    form = await _form(request)
    form.setdefault("public", "0")
    form.setdefault("active", "0")
    await watchmaps.update(pool, request.app[SERVICES].producer, ar_id, user.id,
                           watchmaps.watchmap_fields(form, row))
    raise web.HTTPSeeOther(_url(request, "watchmap", id=ar_id))


@routes.post("/watchmaps/{id:\\d+}/delete", name="watchmap_delete")
async def watchmap_delete(request: web.Request) -> web.Response:
    """Delete a watchmap."""
    user = _require_user(request)
    ar_id = int(request.match_info["id"])
    await watchmaps.owned(_pool(request), ar_id, user.id)
    await jobs.cancel(request.app, f"watchmap-{ar_id}")
    await watchmaps.delete(_pool(request), request.app[SERVICES].producer, ar_id, user.id)
    raise web.HTTPSeeOther(_url(request, "watchmaps"))


# ---------------------------------------------------------------- annotators

@routes.route("*", "/annotators", name="annotators")
@aiohttp_jinja2.template("annotators.html")
async def annotator_list(request: web.Request) -> dict:
    """Visible annotators; admins create new ones for a user."""
    pool = _pool(request)
    error = None
    if request.method == "POST":
        user = _require_user(request)
        if not user.is_admin:
            raise Forbidden("only admins create annotators")
        form = await _form(request)
        try:
            owner = await accounts.user_by_name(pool, str(form.get("owner") or user.username))
            if owner is None:
                raise BadRequest(f"owner: no user {form.get('owner')!r}")
            await annotations.create_annotator(pool, owner.id,
                                               annotations.annotator_fields(form))
        except BadRequest as err:
            error = err.message
        else:
            raise web.HTTPSeeOther(_url(request, "annotators"))
    return {"annotators": await annotations.list_visible(pool, _uid(request)),
            "error": error}


# ---------------------------------------------------------------- live feed

@routes.get("/live", name="live")
@aiohttp_jinja2.template("live.html")
async def live_page(request: web.Request) -> dict:
    """Matches of public filters and the user's own, as they happen."""
    filter_id = request.query.get("filter")
    row = None
    if filter_id and filter_id.isdigit():
        row = await filters.visible_filter(_pool(request), int(filter_id), _uid(request))
    return {"filter": row}


def _check_origin(request: web.Request) -> None:
    """Refuse WebSockets opened by pages of other sites (cross-site hijacking)."""
    origin = request.headers.get("Origin")
    if origin is not None and urlsplit(origin).netloc != request.host:
        raise Forbidden("WebSocket from another site")


@routes.get("/ws/live", name="ws_live")
async def ws_live(request: web.Request) -> web.WebSocketResponse:
    """WebSocket: public matches and the user's own."""
    _check_origin(request)
    return await request.app[LIVE].serve(request, _uid(request), None)


@routes.get("/ws/filter/{id:\\d+}", name="ws_filter")
async def ws_filter(request: web.Request) -> web.WebSocketResponse:
    """WebSocket: the matches of one filter (own or public)."""
    _check_origin(request)
    row = await filters.visible_filter(_pool(request), int(request.match_info["id"]),
                                       _uid(request))
    return await request.app[LIVE].serve(request, _uid(request), int(row["id"]))
