"""Watchmaps: a MOC FITS file or a gravitational-wave sky map (multi-order or flat
HEALPix) turned into its credible-region MOC, with area, sky preview and crossmatch.

An upload is read as a MOC first (:func:`solas.skymatch.read_moc_fits`); if it is not
one it is read as a probability sky map (:func:`solas.skymatch.read_skymap`) and the
MOC of its ``level`` credible region is kept, and the map itself goes to ``mma_areas``
(event id and date, 10/50/90% MOCs, header values, the region's pixels) linked from
the watchmap, so the filter stage also records ``mma_area_hits`` (contour, probability
density) for the alerts inside.  Stored objects inside the MOC are found through the
``hpx16`` index ranges of the MOC, checked exactly with :class:`solas.skymatch.MocIndex`,
and upserted into ``area_hits`` (and ``mma_area_hits`` for a GW map).
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import warnings
from pathlib import Path
from typing import Mapping, NamedTuple

import numpy as np
from aiohttp import web
from astropy.time import Time
from mocpy import MOC

from solas.settings import Settings
from solas.skymatch import (MocError, MocIndex, SkyMap, SkymapError, evaluate_skymap,
                            moc_area_deg2, moc_to_fits_bytes, read_moc_fits, read_skymap,
                            skymap_from_bytes, skymap_to_bytes)
from web import db, forms, jobs, sky
from web.config import SERVICES, SETTINGS
from web.forms import BadRequest, NotFound
from web.images import moc_preview_png
from web.uploads import Upload

KIND = "watchmap"
GW_MAX_LEVEL = 0.999
"""GW hits are recorded up to this credible level, even for a larger watchmap region (a
flat map's whole sky would be millions of pixels)."""
COLUMNS = ("watchmaps.ar_id, watchmaps.user, users.username AS owner, watchmaps.name, "
           "watchmaps.description, area_deg2, active, public, watchmaps.created, modified")


class GwArea(NamedTuple):
    """The ``mma_areas`` row of a GW sky-map upload."""

    event_id: str
    event_date: dt.datetime | None
    """DATE-OBS (or MJD-OBS) of the map header, UTC."""
    moc10: bytes
    moc50: bytes
    moc90: bytes
    area90_deg2: float
    params: dict
    """Header values (DISTMEAN, DISTSTD, INSTRUME, CREATOR, ...), areas and file name."""
    level: float
    """The watchmap's credible region, percent."""
    skymap: bytes
    """The map's pixels within that region (:func:`solas.skymatch.skymap_to_bytes`)."""


class WatchmapFile(NamedTuple):
    """A validated upload: its MOC (FITS bytes), area, preview and what it was."""

    moc_fits: bytes
    area_deg2: float
    preview_png: bytes
    source: str
    """'moc' or 'skymap <level>%'."""
    moc: MOC
    gw: GwArea | None = None
    """Set for a GW sky map."""


def read_upload(data: bytes, filename: str, level: float = 0.9) -> WatchmapFile:
    """Validate a MOC or sky-map upload (blocking); BadRequest naming both readings if
    it is neither."""
    with warnings.catch_warnings():  # astropy's notes on broken files are in the errors
        warnings.simplefilter("ignore")
        return _read_upload(data, filename, level)


def _read_upload(data: bytes, filename: str, level: float) -> WatchmapFile:
    try:
        moc, source = read_moc_fits(data, filename), "moc"
    except MocError as moc_error:
        try:
            skymap = read_skymap(data, filename, max_level=max(level, 0.999))
        except SkymapError as map_error:
            raise BadRequest(f"not a MOC ({moc_error}) nor a HEALPix sky map "
                             f"({map_error})") from None
        moc = skymap.credible_region_moc(level)
        return WatchmapFile(moc_to_fits_bytes(moc), moc_area_deg2(moc), moc_preview_png(moc),
                            f"skymap {level * 100:g}%", moc, gw_area(skymap, filename, level))
    return WatchmapFile(moc_to_fits_bytes(moc), moc_area_deg2(moc), moc_preview_png(moc),
                        source, moc)


def event_date(meta: Mapping) -> dt.datetime | None:
    """The event time of a sky map header (DATE-OBS, else MJD-OBS), UTC, or None."""
    for key, form in (("DATE-OBS", "isot"), ("MJD-OBS", "mjd")):
        if key in meta:
            try:
                return Time(meta[key], format=form, scale="utc").to_datetime()
            except (ValueError, TypeError):
                continue
    return None


def gw_area(skymap: SkyMap, filename: str, level: float) -> GwArea:
    """The ``mma_areas`` row of a sky map read from ``filename`` and kept as a watchmap
    of its ``level`` credible region: event id (OBJECT, else the file name up to its
    first dot), date, 10/50/90% MOCs, area, header values and the region's pixels."""
    meta = skymap.meta
    event_id = str(meta.get("OBJECT") or Path(filename).name.split(".")[0] or "unknown")
    mocs = {p: skymap.credible_region_moc(p / 100.0) for p in (10, 50, 90)}
    params = {**{k: v for k, v in meta.items() if k != "OBJECT"},
              "file": filename, "area10_deg2": moc_area_deg2(mocs[10]),
              "area50_deg2": moc_area_deg2(mocs[50])}
    recorded = min(level, GW_MAX_LEVEL)
    return GwArea(event_id[:64], event_date(meta), *(moc_to_fits_bytes(mocs[p])
                                                       for p in (10, 50, 90)),
                  skymap.area_deg2(0.9), params, recorded * 100.0,
                  skymap_to_bytes(skymap, recorded))


def watchmap_fields(params: Mapping, existing: dict | None = None) -> dict:
    """name, description, public, active, level (credible level, 0-1) of a form."""
    old = existing or {}
    name = forms.text(params, "name", old.get("name"), max_length=255)
    if not name or not name.strip():
        raise BadRequest("name: give the watchmap a name")
    level = forms.number(params, "level", 0.9, low=0.01, high=100.0)
    return {"name": name.strip(),
            "description": forms.text(params, "description", old.get("description") or "") or "",
            "public": forms.boolean(params, "public", bool(old.get("public", False))),
            "active": forms.boolean(params, "active", bool(old.get("active", False))),
            "level": level / 100.0 if level > 1.0 else level}


async def create_and_crossmatch(app: web.Application, user_id: int, upload: Upload
                                ) -> tuple[int, WatchmapFile]:
    """Store a watchmap from an uploaded MOC or sky map and its form fields, then
    crossmatch the stored objects in the background with progress; returns (ar_id, file).
    The upload is deleted whatever happens."""
    services, settings = app[SERVICES], app[SETTINGS]
    try:
        fields = watchmap_fields(upload.fields)
    except BaseException:
        upload.path.unlink(missing_ok=True)
        raise
    ar_id, made = await create(services.db, services.producer, settings, user_id, fields,
                               upload.path, upload.filename or "upload")
    jobs.start(app, crossmatch(services.db, settings, ar_id, made.moc), f"watchmap-{ar_id}")
    return ar_id, made


async def create(pool, producer, settings: Settings, user_id: int, fields: dict,
                 path: Path, filename: str) -> tuple[int, WatchmapFile]:
    """Validate the uploaded file (deleted afterwards), store the watchmap it;
    returns (ar_id, file)."""
    loop = asyncio.get_running_loop()
    try:
        data = await loop.run_in_executor(None, path.read_bytes)
        upload = await loop.run_in_executor(None, read_upload, data, filename, fields["level"])
    finally:
        path.unlink(missing_ok=True)
    ar_id = await _insert(pool, user_id, fields, upload)
    await jobs.set_progress(pool, KIND, ar_id, "crossmatching")
    await producer.watchmap_changed(ar_id, "upsert")  # the filter stage loads its GW map too
    return ar_id, upload


async def _insert(pool, user_id: int, fields: dict, upload: WatchmapFile) -> int:
    """The watchmap row, and its ``mma_areas`` row for a GW sky map, in one transaction;
    returns the ar_id.  Blobs go as hex text: aiomysql 0.3.2 cannot escape bytes with
    PyMySQL 1.2."""
    async with pool.acquire() as conn:
        await conn.begin()
        try:
            async with conn.cursor() as cur:
                mw_id = None
                if upload.gw is not None:
                    gw = upload.gw
                    await cur.execute(
                        "INSERT INTO mma_areas (event_id, event_date, moc10, moc50, moc90, "
                        "area90_deg2, params, level, skymap) VALUES (%s, %s, UNHEX(%s), "
                        "UNHEX(%s), UNHEX(%s), %s, %s, %s, UNHEX(%s))",
                        (gw.event_id, gw.event_date, gw.moc10.hex(), gw.moc50.hex(),
                         gw.moc90.hex(), gw.area90_deg2, json.dumps(gw.params, default=str),
                         gw.level, gw.skymap.hex()))
                    mw_id = cur.lastrowid
                await cur.execute(
                    "INSERT INTO watchmaps (user, name, description, moc, mocimage, "
                    "area_deg2, active, public, modified, mw_id) VALUES (%s, %s, %s, "
                    "UNHEX(%s), UNHEX(%s), %s, %s, %s, UTC_TIMESTAMP(6), %s)",
                    (user_id, fields["name"], fields["description"] or upload.source,
                     upload.moc_fits.hex(), upload.preview_png.hex(), upload.area_deg2,
                     fields["active"], fields["public"], mw_id))
                ar_id = cur.lastrowid
            await conn.commit()
        except BaseException:
            await conn.rollback()
            raise
    return int(ar_id)


async def visible(pool, ar_id: int, user_id: int | None) -> dict:
    """A watchmap the user owns or that is public; NotFound otherwise."""
    row = await db.fetch_one(pool, f"SELECT {COLUMNS} FROM watchmaps LEFT JOIN users ON "
                                   "users.id = watchmaps.user WHERE ar_id=%s", (ar_id,))
    if row is None or not (row["public"] or (user_id is not None and row["user"] == user_id)):
        raise NotFound(f"no watchmap {ar_id}")
    return row


async def owned(pool, ar_id: int, user_id: int) -> dict:
    """A watchmap of the user; NotFound otherwise."""
    row = await visible(pool, ar_id, user_id)
    if row["user"] != user_id:
        raise NotFound(f"watchmap {ar_id} is not yours")
    return row


async def list_visible(pool, user_id: int | None) -> list[dict]:
    """The user's watchmaps then public ones."""
    return await db.fetch_all(
        pool, f"SELECT {COLUMNS}, web_jobs.hits AS hits, web_jobs.state AS state FROM "
              "watchmaps LEFT JOIN users ON users.id = watchmaps.user LEFT JOIN web_jobs ON "
              "web_jobs.kind='watchmap' AND web_jobs.ref_id = watchmaps.ar_id "
              "WHERE watchmaps.user <=> %s OR public "
              "ORDER BY (watchmaps.user <=> %s) DESC, ar_id DESC", (user_id, user_id))


async def update(pool, producer, ar_id: int, user_id: int, fields: dict) -> None:
    """Change name, description, public or active of the user's watchmap."""
    await owned(pool, ar_id, user_id)
    await db.execute(pool, "UPDATE watchmaps SET name=%s, description=%s, public=%s, "
                           "active=%s, modified=UTC_TIMESTAMP(6) WHERE ar_id=%s",
                     (fields["name"], fields["description"], fields["public"],
                      fields["active"], ar_id))
    await producer.watchmap_changed(ar_id, "upsert")


async def delete(pool, producer, ar_id: int, user_id: int) -> None:
    """Delete a watchmap of the user with its hits; publish the deletion."""
    await owned(pool, ar_id, user_id)
    mw_id = await db.fetch_value(pool, "SELECT mw_id FROM watchmaps WHERE ar_id=%s", (ar_id,))
    await db.execute(pool, "DELETE FROM area_hits WHERE ar_id=%s", (ar_id,))
    await db.execute(pool, "DELETE FROM watchmaps WHERE ar_id=%s", (ar_id,))
    if mw_id is not None:
        await db.execute(pool, "DELETE FROM mma_area_hits WHERE mw_id=%s", (mw_id,))
        await db.execute(pool, "DELETE FROM mma_areas WHERE mw_id=%s", (mw_id,))
    await jobs.forget(pool, KIND, ar_id)
    await producer.watchmap_changed(ar_id, "delete")


async def preview(pool, ar_id: int) -> bytes | None:
    """The stored sky preview PNG."""
    return await db.fetch_value(pool, "SELECT mocimage FROM watchmaps WHERE ar_id=%s",
                                (ar_id,))


async def crossmatch(pool, settings: Settings, ar_id: int, moc: MOC) -> int:
    """Upsert ``area_hits`` (and ``mma_area_hits`` for a GW map) for every stored object
    inside the MOC; returns the count."""
    oid = sky.ID_COLUMNS[settings.survey]
    index = MocIndex()
    index.add_moc(ar_id, moc)
    gw = await _gw_map(pool, ar_id)
    conditions = sky.ranges_sql(sky.moc_ranges16(moc))
    found = 0
    for done, condition in enumerate(conditions, start=1):
        async with pool.acquire() as conn, conn.cursor() as cur:
            await cur.execute(sky.candidates_sql(settings.survey, condition))
            rows = [r for r in await cur.fetchall() if None not in r[1:]]
        if rows:
            ra, dec = np.array([r[1] for r in rows]), np.array([r[2] for r in rows])
            inside = index.match_to_mocs(ra, dec).alert_index
            values = [(rows[i][0], ar_id) for i in inside.tolist()]
            await db.execute_many(pool, f"INSERT IGNORE INTO area_hits ({oid}, ar_id) "
                                        "VALUES (%s, %s)", values)
            if gw is not None:
                await _gw_hits(pool, oid, gw, [rows[i][0] for i in inside.tolist()],
                               ra[inside], dec[inside])
            found += len(values)
        await jobs.set_progress(pool, KIND, ar_id, "crossmatching", done=done,
                                total=len(conditions), hits=found)
    await jobs.set_progress(pool, KIND, ar_id, "ready", done=len(conditions),
                            total=len(conditions), hits=found)
    return found


async def _gw_map(pool, ar_id: int) -> tuple[int, SkyMap] | None:
    """(mw_id, stored region) of the GW sky map a watchmap was made from, or None."""
    row = await db.fetch_one(pool, "SELECT a.mw_id, a.skymap FROM watchmaps w JOIN "
                                   "mma_areas a ON a.mw_id = w.mw_id WHERE w.ar_id=%s",
                             (ar_id,))
    if row is None or not row["skymap"]:
        return None
    return row["mw_id"], await asyncio.get_running_loop().run_in_executor(
        None, skymap_from_bytes, bytes(row["skymap"]), f"mma_areas {row['mw_id']}")


async def _gw_hits(pool, oid: str, gw: tuple[int, SkyMap], ids: list, ra: np.ndarray,
                   dec: np.ndarray) -> None:
    """Upsert ``mma_area_hits`` of objects at ``ra``, ``dec`` inside the watchmap."""
    mw_id, skymap = gw
    values = evaluate_skymap(ra, dec, skymap)
    known = np.flatnonzero(~np.isnan(values.contour)).tolist()
    await db.execute_many(
        pool, f"INSERT INTO mma_area_hits ({oid}, mw_id, contour, probdens) VALUES "
              "(%s, %s, %s, %s) ON DUPLICATE KEY UPDATE contour=VALUES(contour), "
              "probdens=VALUES(probdens)",
        [(ids[i], mw_id, float(values.contour[i]), float(values.probdens[i])) for i in known])


async def hits(pool, ar_id: int, object_column: str, limit: int = 1000) -> list[dict]:
    """Objects inside a watchmap."""
    return await db.fetch_all(pool, f"SELECT {object_column} AS object_id FROM area_hits "
                                    f"WHERE ar_id=%s LIMIT {int(limit)}", (ar_id,))
