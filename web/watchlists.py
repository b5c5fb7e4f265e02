"""Watchlists: creation from a CSV upload or JSON cones, streaming load with per-line
errors, crossmatch against every stored object, hits, deletion.

Loading runs in the background (:mod:`web.jobs`): the CSV is parsed in batches by
:func:`solas.skymatch.read_watchlist_csv` in an executor, each batch written with one
multi-row INSERT.  After the cones are committed the change is published
(``watchlist-changes``) so the filter stage matches new alerts at once; then the cones
are crossmatched against the stored objects: per batch of cones, the ``hpx16`` index
ranges around them (:func:`web.sky.cone_ranges`) select candidate objects and
:class:`solas.skymatch.ConeIndex` keeps those within each cone's radius by exact
great-circle separation.  Hits are upserted into ``watchlist_hits``.
"""
from __future__ import annotations

import asyncio
import csv
import io
import logging
from pathlib import Path
from typing import Iterator, Mapping

import numpy as np
from aiohttp import web

from solas.settings import Settings
from solas.skymatch import (DEFAULT_RADIUS_ARCSEC, MAX_RADIUS_ARCSEC, ConeIndex, ConeRows,
                            SkyMatchError, read_watchlist_csv)
from web import db, forms, jobs, sky
from web.config import SERVICES, SETTINGS
from web.forms import BadRequest, NotFound

log = logging.getLogger("solas.web")
KIND = "watchlist"
PARSE_BATCH = 20_000
MATCH_BATCH = 5_000
COLUMNS = ("watchlists.wl_id, watchlists.user, users.username AS owner, watchlists.name, "
           "watchlists.description, active, public, radius, watchlists.created, modified")


def watchlist_fields(params: Mapping, existing: dict | None = None) -> dict:
    """name, description, radius (arcsec), public, active from request parameters."""
    old = existing or {}
    name = forms.text(params, "name", old.get("name"), max_length=255)
    if not name or not name.strip():
        raise BadRequest("name: give the watchlist a name")
    return {"name": name.strip(),
            "description": forms.text(params, "description", old.get("description") or "") or "",
            "radius": forms.number(params, "radius", float(old.get("radius") or
                                                           DEFAULT_RADIUS_ARCSEC),
                                   low=1e-3, high=MAX_RADIUS_ARCSEC),
            "public": forms.boolean(params, "public", bool(old.get("public", False))),
            "active": forms.boolean(params, "active", bool(old.get("active", False)))}


async def create_and_load(app: web.Application, user_id: int, params: Mapping, *,
                          path: Path | None = None, rows: ConeRows | None = None) -> int:
    """Create a watchlist from form ``params`` and load its cones (the uploaded CSV at
    ``path``, or ``rows``) in the background with progress; returns its id.  The upload
    is deleted if the fields are refused."""
    services = app[SERVICES]
    try:
        wl_id = await create(services.db, user_id, watchlist_fields(params))
    except BaseException:
        if path is not None:
            path.unlink(missing_ok=True)
        raise
    jobs.start(app, load(services.db, services.producer, app[SETTINGS], wl_id, path=path,
                         rows=rows), f"watchlist-{wl_id}")
    return wl_id


async def create(pool, user_id: int, fields: dict) -> int:
    """Insert the watchlist row; returns its id."""
    _, wl_id = await db.execute(
        pool, "INSERT INTO watchlists (user, name, description, radius, public, active, "
              "modified) VALUES (%s, %s, %s, %s, %s, %s, UTC_TIMESTAMP(6))",
        (user_id, fields["name"], fields["description"], fields["radius"],
         fields["public"], fields["active"]))
    await jobs.set_progress(pool, KIND, wl_id, "loading")
    return int(wl_id)


async def update(pool, producer, wl_id: int, user_id: int, fields: dict) -> None:
    """Change name, description, radius, public or active of the user's watchlist."""
    await owned(pool, wl_id, user_id)
    await db.execute(pool, "UPDATE watchlists SET name=%s, description=%s, radius=%s, "
                           "public=%s, active=%s, modified=UTC_TIMESTAMP(6) WHERE wl_id=%s",
                     (fields["name"], fields["description"], fields["radius"],
                      fields["public"], fields["active"], wl_id))
    await producer.watchlist_changed(wl_id, "upsert")


async def visible(pool, wl_id: int, user_id: int | None) -> dict:
    """A watchlist the user owns or that is public; NotFound otherwise."""
    row = await db.fetch_one(pool, f"SELECT {COLUMNS} FROM watchlists LEFT JOIN users ON "
                                   "users.id = watchlists.user WHERE wl_id=%s", (wl_id,))
    if row is None or not (row["public"] or (user_id is not None and row["user"] == user_id)):
        raise NotFound(f"no watchlist {wl_id}")
    return row


async def owned(pool, wl_id: int, user_id: int) -> dict:
    """A watchlist of the user; NotFound otherwise."""
    row = await visible(pool, wl_id, user_id)
    if row["user"] != user_id:
        raise NotFound(f"watchlist {wl_id} is not yours")
    return row


async def list_visible(pool, user_id: int | None) -> list[dict]:
    """The user's watchlists then public ones, with cone and hit counts."""
    return await db.fetch_all(
        pool, f"SELECT {COLUMNS}, web_jobs.cones AS cones, web_jobs.hits AS hits, "
              "web_jobs.state AS state FROM watchlists LEFT JOIN users ON users.id = "
              "watchlists.user LEFT JOIN web_jobs ON web_jobs.kind='watchlist' AND "
              "web_jobs.ref_id = watchlists.wl_id WHERE watchlists.user <=> %s OR public "
              "ORDER BY (watchlists.user <=> %s) DESC, wl_id DESC", (user_id, user_id))


async def delete(pool, producer, wl_id: int, user_id: int) -> None:
    """Delete a watchlist of the user with its cones and hits; publish the deletion."""
    await owned(pool, wl_id, user_id)
    for table in ("watchlist_hits", "watchlist_cones", "watchlists"):
        await db.execute(pool, f"DELETE FROM {table} WHERE wl_id=%s", (wl_id,))
    await jobs.forget(pool, KIND, wl_id)
    await producer.watchlist_changed(wl_id, "delete")


async def hits(pool, wl_id: int, object_column: str, limit: int | None = None) -> list[dict]:
    """Hits of a watchlist, newest cones first."""
    sql = (f"SELECT {object_column} AS object_id, cone_id, name, arcsec FROM "
           "watchlist_hits WHERE wl_id=%s ORDER BY cone_id, arcsec")
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return await db.fetch_all(pool, sql, (wl_id,))


def cones_from_json(cones) -> ConeRows:
    """Cones given as JSON [{"name", "ra", "dec"[, "radius"]}, ...] as one ConeRows
    (bad items become per-item errors; item i is line i + 1)."""
    if not isinstance(cones, list) or not cones:
        raise BadRequest("cones: expected a non-empty list of {name, ra, dec[, radius]}")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["name", "ra", "dec", "radius"])
    for item in cones:
        if not isinstance(item, dict):
            raise BadRequest("cones: every cone must be an object {name, ra, dec[, radius]}")
        radius = item.get("radius")
        writer.writerow([item.get("name", ""), item.get("ra", ""), item.get("dec", ""),
                         "" if radius is None else radius])
    lines = buffer.getvalue().splitlines(keepends=True)
    rows = next(read_watchlist_csv(lines, source="cones", batch_size=len(lines)))
    errors = [e._replace(line=e.line - 1) for e in rows.errors]
    return rows._replace(line=rows.line - 1, errors=errors)


def _csv_batches(path: Path) -> Iterator[ConeRows]:
    with open(path, "rb") as handle:
        yield from read_watchlist_csv(handle, source="upload", batch_size=PARSE_BATCH)


async def _next_batch(iterator: Iterator[ConeRows]) -> ConeRows | None:
    return await asyncio.get_running_loop().run_in_executor(None, next, iterator, None)


async def _insert_cones(pool, wl_id: int, rows: ConeRows) -> int:
    radius = [None if np.isnan(r) else float(r) for r in rows.radius_arcsec.tolist()]
    values = list(zip([wl_id] * len(rows.ra), rows.name.tolist(), rows.ra.tolist(),
                      rows.dec.tolist(), radius))
    return await db.execute_many(
        pool, "INSERT INTO watchlist_cones (wl_id, name, ra, decl, radius) "
              "VALUES (%s, %s, %s, %s, %s)", values)


async def load(pool, producer, settings: Settings, wl_id: int, *, path: Path | None = None,
               rows: ConeRows | None = None) -> None:
    """Load cones (a CSV file, deleted afterwards, or parsed rows) the change,
    then crossmatch against stored objects; progress in ``web_jobs``."""
    errors: list = []  # the first MAX_STORED_ERRORS rejected lines: bounded memory
    stored = rejected = 0
    try:
        batches = iter([rows]) if rows is not None else _csv_batches(path)
        while (batch := await _next_batch(batches)) is not None:
            rejected += len(batch.errors)
            room = jobs.MAX_STORED_ERRORS - len(errors)
            errors += [[e.line, e.reason] for e in batch.errors[:max(room, 0)]]
            stored += await _insert_cones(pool, wl_id, batch) if len(batch.ra) else 0
            await jobs.set_progress(pool, KIND, wl_id, "loading", done=stored, cones=stored,
                                    errors=errors)
        if rejected > len(errors):
            errors.append([0, f"... and {rejected - len(errors):,} more rejected lines "
                              "(not listed)"])
            await jobs.set_progress(pool, KIND, wl_id, "loading", done=stored, cones=stored,
                                    errors=errors)
        if stored == 0:
            raise BadRequest("no valid cones in the upload")
    except (SkyMatchError, BadRequest) as err:
        await jobs.set_progress(pool, KIND, wl_id, "failed", done=stored, cones=stored,
                                message=str(err), errors=errors)
        return
    except Exception:  # a bug: the job must not stay "loading" for ever
        log.exception("loading watchlist %s failed", wl_id)
        await jobs.set_progress(pool, KIND, wl_id, "failed", done=stored, cones=stored,
                                message="the upload could not be read", errors=errors)
        return
    finally:
        if path is not None:
            path.unlink(missing_ok=True)
    await producer.watchlist_changed(wl_id, "upsert")
    await crossmatch(pool, settings, wl_id, stored)


async def crossmatch(pool, settings: Settings, wl_id: int, n_cones: int) -> int:
    """Match the watchlist's cones against every stored object; returns the hits."""
    wl = await db.fetch_one(pool, "SELECT radius FROM watchlists WHERE wl_id=%s", (wl_id,))
    if wl is None:
        return 0
    default = float(wl["radius"] or DEFAULT_RADIUS_ARCSEC)
    oid = sky.ID_COLUMNS[settings.survey]
    found, done, last = 0, 0, 0
    await jobs.set_progress(pool, KIND, wl_id, "crossmatching", total=n_cones, hits=0)
    while True:
        cones = await db.fetch_all(pool, "SELECT cone_id, name, ra, decl, radius FROM "
                                         "watchlist_cones WHERE wl_id=%s AND cone_id > %s "
                                         "ORDER BY cone_id LIMIT %s",
                                   (wl_id, last, MATCH_BATCH))
        if not cones:
            break
        last = cones[-1]["cone_id"]
        found += await _match_cones(pool, settings.survey, oid, wl_id, cones, default)
        done += len(cones)
        await jobs.set_progress(pool, KIND, wl_id, "crossmatching", done=done,
                                total=n_cones, hits=found)
    await jobs.set_progress(pool, KIND, wl_id, "ready", done=done, total=n_cones, hits=found)
    return found


async def _match_cones(pool, survey: str, oid: str, wl_id: int, cones: list[dict],
                       default: float) -> int:
    ra = np.array([c["ra"] for c in cones], np.float64)
    dec = np.array([c["decl"] for c in cones], np.float64)
    radius = np.array([default if c["radius"] is None else c["radius"] for c in cones])
    candidates: list[tuple] = []
    for condition in sky.ranges_sql(sky.cone_ranges(ra, dec, radius)):
        async with pool.acquire() as conn, conn.cursor() as cur:
            await cur.execute(sky.candidates_sql(survey, condition))
            candidates += [r for r in await cur.fetchall() if None not in r[1:]]
    if not candidates:
        return 0
    index = ConeIndex.from_arrays([c["cone_id"] for c in cones], np.full(len(cones), wl_id),
                                  ra, dec, radius, [c["name"] or "" for c in cones])
    matches = index.match_to_cones([r[1] for r in candidates], [r[2] for r in candidates])
    values = [(candidates[i][0], wl_id, int(cone), float(sep), str(name))
              for i, cone, sep, name in zip(matches.alert_index.tolist(),
                                            matches.cone_id.tolist(), matches.arcsec.tolist(),
                                            matches.name.tolist())]
    await db.execute_many(pool, f"INSERT INTO watchlist_hits ({oid}, wl_id, cone_id, arcsec, "
                                "name) VALUES (%s, %s, %s, %s, %s) ON DUPLICATE KEY UPDATE "
                                "arcsec=VALUES(arcsec), name=VALUES(name)", values)
    return len(values)
