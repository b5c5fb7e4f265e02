"""The REST API: the reference broker's endpoints (PyPI ``lasair`` client) and the
write endpoints for scripts and TOM systems (DESIGN section 6).

Parameters come as a query string, a form or JSON.  Errors: 400 ``{"error": ...}``,
401 (bad or missing token), 404, 429 ``{"message": ...}`` (hourly limit).
"""
from __future__ import annotations

from aiohttp import web

from solas.filters import FilterError
from web import (accounts, annotations, db, filters, forms, jobs, kafka, objects, sky,
                 watchlists, watchmaps)
from web.config import CONFIG, ROW_CAPS, SERVICES, SETTINGS, SHERLOCK, TOKENS
from web.forms import BadRequest, NotFound, request_params
from web.middleware import json_response
from web.queries import QueryError, compile_for, rows_as_dicts, run_filter
from web.ratelimit import api_caller, check_login_allowed, count_failed_login, user_class
from web.sherlock import answer as sherlock_answer
from web.uploads import read_multipart

routes = web.RouteTableDef()


def _uid(user) -> int | None:
    return user.id if user is not None else None


async def _params(request: web.Request) -> dict:
    return await request_params(request, request.app[CONFIG].max_form_bytes)


def _survey(request: web.Request) -> str:
    return request.app[SETTINGS].survey


# ------------------------------------------------------------ reference endpoints

@routes.route("*", "/api/cone/", name="api_cone")
async def cone(request: web.Request) -> web.Response:
    """Objects within ``radius`` arcsec of (ra, dec): all, nearest or count."""
    await api_caller(request)
    p = await _params(request)
    config = request.app[CONFIG]
    ra = forms.number(p, "ra", low=0.0, high=360.0)
    dec = forms.number(p, "dec", low=-90.0, high=90.0)
    radius = forms.number(p, "radius", 5.0, low=0.0, high=config.max_cone_radius_arcsec)
    kind = forms.choice(p, "requestType", ("all", "nearest", "count"), "all")
    found = await sky.cone_search(request.app[SERVICES].db, _survey(request), ra, dec, radius)
    items = [{"object": oid, "separation": float(sep)}
             for oid, sep in zip(found.object_id, found.separation_arcsec.tolist())]
    if kind == "count":
        return json_response({"count": len(items)})
    if kind == "nearest":
        return json_response({"nearest": items[0]} if items else {})
    return json_response({"objects": items, "count": len(items),
                          "nearest": items[0] if items else {}})


@routes.route("*", "/api/query/", name="api_query")
async def query(request: web.Request) -> web.Response:
    """Run a filter (selected, tables, conditions) on the stored database."""
    user = await api_caller(request)
    p = await _params(request)
    selected = forms.text(p, "selected", required=True)
    tables = forms.text(p, "tables", "objects") or "objects"
    conditions = forms.text(p, "conditions", "") or ""
    limit = min(forms.integer(p, "limit", 1000), ROW_CAPS[user_class(user)])
    offset = forms.integer(p, "offset", 0)
    services = request.app[SERVICES]
    try:
        compiled = await compile_for(services.db, _survey(request), selected, tables,
                                     conditions, _uid(user))
        result = await run_filter(services.readonly, compiled, limit=limit, offset=offset)
    except (FilterError, QueryError) as err:
        raise BadRequest(str(err)) from None
    return json_response(rows_as_dicts(result))


@routes.route("*", "/api/object/", name="api_object")
async def object_(request: web.Request) -> web.Response:
    """Everything about one object (light curve, features, context, hits)."""
    user = await api_caller(request)
    p = await _params(request)
    survey = _survey(request)
    object_id = forms.object_id(survey, p.get("objectId"))
    lite = forms.boolean(p, "lite", False)
    added = forms.boolean(p, "lasair_added", True)
    services = request.app[SERVICES]
    info = await objects.context(services.db, survey, object_id, _uid(user))
    if info is None:
        ss = await objects.solar_system(services.db, services.cassandra, survey, object_id)
        if ss is not None:  # an ssObjectId: the solar-system object
            return json_response(objects.api_solar_system(ss, lite=lite))
        raise NotFound(f"object {object_id} not found")
    lc = await objects.light_curve(services.cassandra, survey, object_id)
    return json_response(objects.api_object(
        survey, info, lc, lite=lite, lasair_added=added,
        public_url=request.app[SETTINGS].web_public_url.rstrip("/")))


@routes.route("*", "/api/sherlock/object/", name="api_sherlock_object")
async def sherlock_object(request: web.Request) -> web.Response:
    """The Sherlock context of a stored object."""
    await api_caller(request)
    p = await _params(request)
    survey = _survey(request)
    object_id = forms.object_id(survey, p.get("objectId"))
    lite = forms.boolean(p, "lite", False)
    pool = request.app[SERVICES].db
    row = await objects.object_row(pool, survey, object_id)
    if row is None:
        raise NotFound(f"object {object_id} not found")
    info = await pool_sherlock(pool, survey, object_id)
    if info is None:
        ra, dec = sky.POSITION_COLUMNS[survey]
        info = await request.app[SHERLOCK].classify(row[ra], row[dec])
    return json_response(sherlock_answer(str(object_id), info, lite))


async def pool_sherlock(pool, survey: str, object_id) -> dict | None:
    """The stored sherlock_classifications row of an object."""
    return await db.fetch_one(pool, "SELECT * FROM sherlock_classifications WHERE "
                                    f"{sky.ID_COLUMNS[survey]}=%s", (object_id,))


@routes.route("*", "/api/sherlock/position/", name="api_sherlock_position")
async def sherlock_position(request: web.Request) -> web.Response:
    """The Sherlock context of any position."""
    await api_caller(request)
    p = await _params(request)
    ra = forms.number(p, "ra", low=0.0, high=360.0)
    dec = forms.number(p, "dec", low=-90.0, high=90.0)
    lite = forms.boolean(p, "lite", False)
    info = await request.app[SHERLOCK].classify(ra, dec)
    return json_response(sherlock_answer("query", info, lite))


@routes.post("/api/annotate/", name="api_annotate")
async def annotate(request: web.Request) -> web.Response:
    """One annotation from the owner of an annotator."""
    user = await api_caller(request, token_required=True)
    p = await _params(request)
    services = request.app[SERVICES]
    n = await annotations.submit(services.db, services.producer, _survey(request), user, [p])
    return json_response({"status": "success", "n": n})


@routes.post("/api/annotatelist/", name="api_annotatelist")
async def annotatelist(request: web.Request) -> web.Response:
    """A batch of annotations: JSON {"annotations": [...]}."""
    user = await api_caller(request, token_required=True)
    p = await _params(request)
    services = request.app[SERVICES]
    n = await annotations.submit(services.db, services.producer, _survey(request), user,
                                 p.get("annotations"))
    return json_response({"status": "success", "n": n})


@routes.post("/api/auth-token/", name="api_auth_token")
async def auth_token(request: web.Request) -> web.Response:
    """The API token of a user name and password (created if the user has none)."""
    p = await _params(request)
    name = forms.text(p, "username", required=True, max_length=64)
    password = forms.text(p, "password", required=True, max_length=1024)
    pool = request.app[SERVICES].db
    await check_login_allowed(request)
    user = await accounts.authenticate(pool, name, password)
    if user is None:
        await count_failed_login(request)
        raise BadRequest("Unable to log in with provided credentials.")
    return json_response({"token": await accounts.first_token(pool, request.app[TOKENS],
                                                              user.id)})


# ------------------------------------------------------------------ filters

@routes.get("/api/filters/", name="api_filters")
async def list_filters(request: web.Request) -> web.Response:
    """The caller's filters and the public ones."""
    user = await api_caller(request, token_required=True)
    rows = await filters.list_filters(request.app[SERVICES].db, user.id)
    return json_response({"filters": [filters.as_api(r) for r in rows]})


def _filter_error(err: FilterError) -> BadRequest:
    return BadRequest(str(err))


@routes.post("/api/filters/", name="api_filter_create")
async def create_filter(request: web.Request) -> web.Response:
    """Create a filter: name, description, selected, tables, conditions, public, run,
    output -> {"id", "topic"}."""
    user = await api_caller(request, token_required=True)
    data = filters.filter_input(await _params(request))
    try:
        saved = await filters.save_filter(request.app[SERVICES].db, request.app[SETTINGS],
                                          user.id, data)
    except FilterError as err:
        raise _filter_error(err) from None
    return json_response(saved, status=201)


@routes.route("*", "/api/filters/{id:\\d+}/", name="api_filter")
async def one_filter(request: web.Request) -> web.Response:
    """GET, PATCH (or PUT/POST) or DELETE one filter."""
    user = await api_caller(request, token_required=True)
    filter_id = int(request.match_info["id"])
    pool = request.app[SERVICES].db
    if request.method == "GET":
        row = await filters.visible_filter(pool, filter_id, user.id)
        return json_response(filters.as_api(row))
    if request.method == "DELETE":
        await filters.delete_filter(pool, request.app[SETTINGS], filter_id, user.id)
        return json_response({"deleted": filter_id})
    if request.method not in ("PATCH", "PUT", "POST"):
        raise web.HTTPMethodNotAllowed(request.method, ["GET", "PATCH", "DELETE"])
    row = await filters.owned_filter(pool, filter_id, user.id)
    data = filters.filter_input(await _params(request), row)
    try:
        saved = await filters.save_filter(pool, request.app[SETTINGS], user.id, data,
                                          filter_id)
    except FilterError as err:
        raise _filter_error(err) from None
    return json_response(saved)


# -------------------------------------------------------------------- kafka

@routes.route("*", "/api/kafka/", name="api_kafka")
async def kafka_credentials(request: web.Request) -> web.Response:
    """GET: where and how the caller connects to Kafka from outside {"bootstrap",
    "public_bootstrap", "security_protocol", "sasl_mechanism", "username"}; POST: create
    or rotate the caller's SCRAM credential, the same plus "password" (shown only now)."""
    user = await api_caller(request, token_required=True)
    settings = request.app[SETTINGS]
    if request.method == "GET":
        return json_response(kafka.access(settings, user.username))
    if request.method != "POST":
        raise web.HTTPMethodNotAllowed(request.method, ["GET", "POST"])
    return json_response(await kafka.rotate(settings, user.username),
                         headers={"Cache-Control": "no-store"})


# --------------------------------------------------------------- watchlists

def _watchlist_api(row: dict, progress: dict) -> dict:
    return {"id": row["wl_id"], "owner": row.get("owner"), "name": row["name"],
            "description": row["description"], "radius": row["radius"],
            "public": bool(row["public"]), "active": bool(row["active"]),
            "created": row["created"], "modified": row["modified"], "progress": progress}


@routes.get("/api/watchlists/", name="api_watchlists")
async def list_watchlists(request: web.Request) -> web.Response:
    """The caller's watchlists and the public ones."""
    user = await api_caller(request, token_required=True)
    rows = await watchlists.list_visible(request.app[SERVICES].db, user.id)
    return json_response({"watchlists": [_watchlist_api(r, {
        "state": r["state"] or "ready", "cones": r["cones"], "hits": r["hits"]})
        for r in rows]})


@routes.post("/api/watchlists/", name="api_watchlist_create")
async def create_watchlist(request: web.Request) -> web.Response:
    """Create a watchlist from a CSV file (multipart field ``file``) or JSON ``cones``;
    loading and crossmatching continue in the background (see ``progress``)."""
    user = await api_caller(request, token_required=True)
    app = request.app
    path = rows = None
    if request.content_type == "multipart/form-data":
        upload = await read_multipart(request, "file", app[CONFIG].max_watchlist_bytes)
        params, path = upload.fields, upload.path
        if path is None:
            raise BadRequest("file: attach the CSV file of cones (name, ra, dec[, radius])")
    else:
        params = await _params(request)
        rows = watchlists.cones_from_json(params.get("cones"))
    wl_id = await watchlists.create_and_load(app, user.id, params, path=path, rows=rows)
    return json_response({"id": wl_id, "status": "loading"}, status=201)


@routes.route("*", "/api/watchlists/{id:\\d+}/", name="api_watchlist")
async def one_watchlist(request: web.Request) -> web.Response:
    """GET (with progress and hits), PATCH or DELETE one watchlist."""
    user = await api_caller(request, token_required=True)
    wl_id = int(request.match_info["id"])
    services = request.app[SERVICES]
    pool = services.db
    if request.method == "DELETE":
        await watchlists.owned(pool, wl_id, user.id)
        await jobs.cancel(request.app, f"watchlist-{wl_id}")
        await watchlists.delete(pool, services.producer, wl_id, user.id)
        return json_response({"deleted": wl_id})
    if request.method in ("PATCH", "PUT", "POST"):
        row = await watchlists.owned(pool, wl_id, user.id)
        fields = watchlists.watchlist_fields(await _params(request), row)
        await watchlists.update(pool, services.producer, wl_id, user.id, fields)
    elif request.method != "GET":
        raise web.HTTPMethodNotAllowed(request.method, ["GET", "PATCH", "DELETE"])
    row = await watchlists.visible(pool, wl_id, user.id)
    answer = _watchlist_api(row, await jobs.progress(pool, "watchlist", wl_id))
    answer["hits"] = await watchlists.hits(pool, wl_id, sky.ID_COLUMNS[_survey(request)],
                                           limit=ROW_CAPS[user.user_class])
    return json_response(answer)


# ---------------------------------------------------------------- watchmaps

def _watchmap_api(row: dict, progress: dict) -> dict:
    return {"id": row["ar_id"], "owner": row.get("owner"), "name": row["name"],
            "description": row["description"], "area_deg2": row["area_deg2"],
            "public": bool(row["public"]), "active": bool(row["active"]),
            "created": row["created"], "modified": row["modified"], "progress": progress}


@routes.get("/api/watchmaps/", name="api_watchmaps")
async def list_watchmaps(request: web.Request) -> web.Response:
    """The caller's watchmaps and the public ones."""
    user = await api_caller(request, token_required=True)
    rows = await watchmaps.list_visible(request.app[SERVICES].db, user.id)
    return json_response({"watchmaps": [_watchmap_api(r, {
        "state": r["state"] or "ready", "hits": r["hits"]}) for r in rows]})


@routes.post("/api/watchmaps/", name="api_watchmap_create")
async def create_watchmap(request: web.Request) -> web.Response:
    """Create a watchmap from a MOC FITS or GW sky map (multipart field ``file``)."""
    user = await api_caller(request, token_required=True)
    app = request.app
    upload = await read_multipart(request, "file", app[CONFIG].max_watchmap_bytes)
    if upload.path is None:
        raise BadRequest("file: attach a MOC FITS file or a HEALPix sky map")
    ar_id, made = await watchmaps.create_and_crossmatch(app, user.id, upload)
    return json_response({"id": ar_id, "area_deg2": made.area_deg2, "source": made.source},
                         status=201)


@routes.route("*", "/api/watchmaps/{id:\\d+}/", name="api_watchmap")
async def one_watchmap(request: web.Request) -> web.Response:
    """GET (with progress and hits), PATCH or DELETE one watchmap."""
    user = await api_caller(request, token_required=True)
    ar_id = int(request.match_info["id"])
    services = request.app[SERVICES]
    pool = services.db
    if request.method == "DELETE":
        await watchmaps.owned(pool, ar_id, user.id)
        await jobs.cancel(request.app, f"watchmap-{ar_id}")
        await watchmaps.delete(pool, services.producer, ar_id, user.id)
        return json_response({"deleted": ar_id})
    if request.method in ("PATCH", "PUT", "POST"):
        row = await watchmaps.owned(pool, ar_id, user.id)
        fields = watchmaps.watchmap_fields(await _params(request), row)
        await watchmaps.update(pool, services.producer, ar_id, user.id, fields)
    elif request.method != "GET":
        raise web.HTTPMethodNotAllowed(request.method, ["GET", "PATCH", "DELETE"])
    row = await watchmaps.visible(pool, ar_id, user.id)
    answer = _watchmap_api(row, await jobs.progress(pool, "watchmap", ar_id))
    answer["hits"] = await watchmaps.hits(pool, ar_id, sky.ID_COLUMNS[_survey(request)],
                                          limit=ROW_CAPS[user.user_class])
    return json_response(answer)
