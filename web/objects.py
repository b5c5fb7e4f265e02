"""Everything known about one object, for its page and for ``/api/object/``.

MariaDB gives the ``objects`` row, the Sherlock context, the TNS entry, watchlist,
watchmap and GW-map hits and annotations; Cassandra the light curve.  Hits and
annotations of another user's private watchlist, watchmap or annotator are left out.

A Rubin solar-system object (an ``ssObjectId`` that is not a diaObjectId) has its own
answer: its ``ss_objects`` row (designation, orbit, per-band photometry, geometry) and
its detections from Cassandra (``ssSources``: diaSource + ssSource columns).
"""
from __future__ import annotations

import asyncio

from web import db
from web.lightcurves import CassandraReader, latest_source, photometry
from web.sky import ID_COLUMNS, POSITION_COLUMNS


async def object_row(pool, survey: str, object_id) -> dict | None:
    """The ``objects`` row, or None."""
    return await db.fetch_one(pool, f"SELECT * FROM objects WHERE {ID_COLUMNS[survey]}=%s",
                              (object_id,))


async def _visible_rows(pool, sql: str, object_id, user_id: int | None) -> list[dict]:
    return await db.fetch_all(pool, sql, (object_id, user_id))


async def context(pool, survey: str, object_id, user_id: int | None) -> dict | None:
    """The MariaDB side of an object: None if the object is not stored."""
    oid = ID_COLUMNS[survey]
    row = await object_row(pool, survey, object_id)
    if row is None:
        return None
    sherlock, watchlist_hits, area_hits, mma_hits, annotations = await asyncio.gather(
        db.fetch_one(pool, f"SELECT * FROM sherlock_classifications WHERE {oid}=%s",
                     (object_id,)),
        _visible_rows(pool, "SELECT h.wl_id, w.name AS watchlist, h.cone_id, h.name, "
                            "h.arcsec FROM watchlist_hits h JOIN watchlists w ON "
                            f"w.wl_id = h.wl_id WHERE h.{oid}=%s AND "
                            "(w.public OR w.user <=> %s) ORDER BY h.arcsec",
                      object_id, user_id),
        _visible_rows(pool, "SELECT h.ar_id, m.name AS watchmap FROM area_hits h JOIN "
                            f"watchmaps m ON m.ar_id = h.ar_id WHERE h.{oid}=%s AND "
                            "(m.public OR m.user <=> %s) ORDER BY h.ar_id",
                      object_id, user_id),
        _visible_rows(pool, "SELECT h.mw_id, a.event_id, h.contour, h.probdens, "
                            "w.ar_id, w.name AS watchmap FROM mma_area_hits h JOIN "
                            "mma_areas a ON a.mw_id = h.mw_id LEFT JOIN watchmaps w ON "
                            f"w.mw_id = h.mw_id WHERE h.{oid}=%s AND (w.ar_id IS NULL OR "
                            "w.public OR w.user <=> %s) ORDER BY h.contour",
                      object_id, user_id),
        _visible_rows(pool, "SELECT n.topic, n.version, n.classification, n.explanation, "
                            "n.classdict, n.url, n.timestamp FROM annotations n JOIN "
                            f"annotators a ON a.topic = n.topic WHERE n.{oid}=%s AND "
                            "(a.public OR a.owner <=> %s) ORDER BY n.timestamp DESC",
                      object_id, user_id))
    tns = None
    if row.get("tns_name"):
        tns = await db.fetch_one(pool, "SELECT * FROM crossmatch_tns WHERE tns_name=%s",
                                 (row["tns_name"],))
    ra, dec = POSITION_COLUMNS[survey]
    return {"object_id": object_id, "object": row, "ra": row.get(ra), "dec": row.get(dec),
            "sherlock": sherlock, "tns": tns, "watchlist_hits": watchlist_hits,
            "area_hits": area_hits, "mma_hits": mma_hits, "annotations": annotations}


ORBIT_KEYS = ("designation", "a", "q", "e", "i", "incl", "node", "argperi", "peri",
              "mean_anomaly", "M", "epoch_mjd", "epoch", "peri_time", "t_p", "h", "mpcH",
              "g", "earth_moid", "MOID", "period", "arc_length_total", "nobs_total",
              "mpcDesignation")
"""Orbit columns of ``ss_objects`` shown first, those Rubin sent (mpc_orbits, MPCORB or
ssObject: angles deg, distances au, times MJD, H mag)."""


async def solar_system_row(pool, survey: str, object_id) -> dict | None:
    """The ``ss_objects`` row of an ssObjectId, or None (always for ZTF)."""
    if survey != "lsst" or not isinstance(object_id, int):
        return None
    return await db.fetch_one(pool, "SELECT * FROM ss_objects WHERE ssObjectId=%s",
                              (object_id,))


async def solar_system(pool, reader: CassandraReader, survey: str, ss_object_id
                       ) -> dict | None:
    """A solar-system object: its ``ss_objects`` row, orbit, its detections from
    Cassandra and their plot points; None if it is not stored."""
    row = await solar_system_row(pool, survey, ss_object_id)
    if row is None:
        return None
    detections = await reader.solar_system_detections(ss_object_id)
    orbit = {k: row[k] for k in ORBIT_KEYS if row.get(k) is not None}
    return {"object_id": ss_object_id, "object": row, "designation": row.get("designation"),
            "ra": row.get("ra"), "dec": row.get("decl"), "orbit": orbit,
            "detections": detections,
            "points": photometry(survey, {"detections": detections}),
            "latest_source": latest_source(survey, {"detections": detections})}


def api_solar_system(info: dict, *, lite: bool) -> dict:
    """The ``/api/object/`` answer for a solar-system object: ``ssObjectId``,
    ``designation``, ``ssObject`` (its ``ss_objects`` row), ``orbit`` and
    ``ssSourcesList`` (its detections; with ``lite`` only keys, time, band and flux)."""
    detections = [_without_blobs(r) for r in info["detections"]]
    if lite:
        keep = ("diaSourceId", "midpointMjdTai", "band", "psfFlux", "psfFluxErr", "ra",
                "dec", "phaseAngle", "helioRange", "topoRange")
        detections = [{k: d.get(k) for k in keep} for d in detections]
    return {"ssObjectId": info["object_id"], "solar_system": True,
            "designation": info["designation"], "ssObject": _without_blobs(info["object"]),
            "orbit": info["orbit"], "ssSourcesList": detections}


async def light_curve(reader: CassandraReader, survey: str, object_id) -> dict:
    """Native rows per kind, plot points and the latest detection's source id."""
    rows = await reader.light_curve(object_id)
    return {"rows": rows, "points": photometry(survey, rows),
            "latest_source": latest_source(survey, rows)}


def _without_blobs(row: dict) -> dict:
    return {k: v for k, v in row.items() if not isinstance(v, (bytes, bytearray))}


def api_object(survey: str, info: dict, lc: dict, *, lite: bool, lasair_added: bool,
               public_url: str) -> dict:
    """The ``/api/object/`` answer, shaped like the reference broker's for the survey."""
    oid = ID_COLUMNS[survey]
    rows = lc["rows"]
    object_id = info["object_id"]
    detections = [_without_blobs(r) for r in rows.get("detections", [])]
    forced = [_without_blobs(r) for r in rows.get("forced", [])]
    limits = [_without_blobs(r) for r in rows.get("nondetections", [])]
    source = "candid" if survey == "ztf" else "diaSourceId"
    images = [{source: d[source], **{kind: f"{public_url}/objects/{object_id}/cutouts/"
                                           f"{d[source]}/{kind}.png"
                                     for kind in ("Science", "Template", "Difference")}}
              for d in detections if d.get(source) is not None]
    added = {"sherlock": info["sherlock"], "TNS": info["tns"] or {},
             "annotations": info["annotations"], "watchlist_hits": info["watchlist_hits"],
             "area_hits": info["area_hits"], "mma_hits": info["mma_hits"],
             "imageUrls": images}
    if survey == "ztf":
        answer = {"objectId": object_id, "objectData": info["object"],
                  "candidates": detections + ([] if lite else limits)}
        if not lite:
            answer["forcedphot"] = forced
        if lasair_added:
            answer.update(added)
        return answer
    answer = {oid: object_id, "diaObject": info["object"], "diaSourcesList": detections}
    if not lite:
        answer["diaForcedSourcesList"] = forced
        answer["diaNondetectionLimitsList"] = limits
    if lasair_added:
        answer["lasairData"] = added
    return answer
