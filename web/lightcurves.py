"""Light curves and cutouts read from Cassandra for the object page and the API.

:class:`CassandraReader` runs prepared statements with ``execute_async`` wrapped into
asyncio futures; :func:`photometry` turns the native rows of a survey into one list of
plot points with flux (nJy) and AB magnitude for every kind of point:

- ZTF detections: ``magpsf`` +- ``sigmapsf``; flux = 10**((31.4 - mag) / 2.5) nJy,
  negative for a negative difference (``isdiffpos`` 'f' or '0').
- ZTF forced photometry: ``forcediffimflux`` (DN) scaled by the zero point,
  flux = forcediffimflux * 10**((31.4 - magzpsci) / 2.5) nJy (rows flagged -99999 skipped).
- ZTF non-detections: ``diffmaglim`` (5-sigma limiting magnitude).
- Rubin detections and forced photometry: ``psfFlux`` +- ``psfFluxErr`` nJy.
- Rubin non-detections: 5 x ``diaNoise`` as the limiting flux.
- Rubin solar-system detections (table ``ssSources``, by ssObjectId): ``psfFlux`` +-
  ``psfFluxErr`` nJy, kind ``detection``.

mag = 31.4 - 2.5 log10(flux) for flux > 0; magerr = 1.0857 fluxerr / flux.
"""
from __future__ import annotations

import asyncio
import math
from typing import Any, Iterable

from cassandra.cluster import Session

from solas.schema.columns import unpacked_row
from solas.schema.tables import (CUTOUT_TYPES, SS_LIGHTCURVE_KIND, cutout_table,
                                 lightcurve_tables, solar_system_lightcurve)
from solas.settings import Settings

AB_ZERO_NJY = 31.4
ZTF_BANDS = {1: "g", 2: "r", 3: "i"}
MAG_PER_FLUX_FRACTION = 2.5 / math.log(10)
FORCED_MISSING = -99999.0
RUBIN_LIMIT_SIGMA = 5.0


def _cql(name: str) -> str:
    return f'"{name}"' if name != name.lower() else name


def _future(response_future, loop: asyncio.AbstractEventLoop) -> asyncio.Future:
    future = loop.create_future()
    response_future.add_callbacks(
        lambda rows: loop.call_soon_threadsafe(lambda: future.done() or
                                               future.set_result(rows)),
        lambda exc: loop.call_soon_threadsafe(lambda: future.done() or
                                              future.set_exception(exc)))
    return future


class CassandraReader:
    """Prepared reads of one survey's light-curve and cutout tables."""

    def __init__(self, settings: Settings, session: Session):
        self.session = session
        self.survey = settings.survey
        ks = settings.cassandra_keyspace
        self.tables = lightcurve_tables(settings.survey)
        self.statements = {}
        for kind, spec in self.tables.items():
            self.statements[kind] = session.prepare(
                f"SELECT * FROM {ks}.{_cql(spec.name)} WHERE {_cql(spec.primary_key[0])}=?")
            self.statements[kind].fetch_size = None  # a light curve is one partition
        self.ss_table = solar_system_lightcurve(settings.survey).get(SS_LIGHTCURVE_KIND)
        self.ss_statement = None
        if self.ss_table is not None:
            self.ss_statement = session.prepare(
                f"SELECT * FROM {ks}.{_cql(self.ss_table.name)} WHERE "
                f"{_cql(self.ss_table.primary_key[0])}=?")
            self.ss_statement.fetch_size = None
        cutouts = cutout_table(settings.survey, settings.cutout_ttl_s)
        self.source_column = cutouts.primary_key[0]
        self.cutout_statement = session.prepare(
            f"SELECT {_cql('cutoutType')}, {_cql('objectId')}, stamp FROM {ks}.cutouts "
            f"WHERE {_cql(self.source_column)}=?")

    async def _rows(self, statement, params) -> list[dict]:
        loop = asyncio.get_running_loop()
        rows = await _future(self.session.execute_async(statement, params), loop)
        return [row._asdict() for row in rows]

    async def light_curve(self, object_id) -> dict[str, list[dict]]:
        """Native rows per kind (detections, forced, nondetections), time ordered, with
        every native column (packed ones unpacked)."""
        kinds = list(self.statements)
        results = await asyncio.gather(*(self._rows(self.statements[k], (object_id,))
                                         for k in kinds))
        return {kind: [unpacked_row(self.tables[kind], row) for row in rows]
                for kind, rows in zip(kinds, results)}

    async def solar_system_detections(self, ss_object_id: int) -> list[dict]:
        """The stored detections (diaSource + ssSource, every native column) of a
        solar-system object, time ordered; ``[]`` for ZTF."""
        if self.ss_statement is None or self.ss_table is None:
            return []
        rows = await self._rows(self.ss_statement, (int(ss_object_id),))
        return [unpacked_row(self.ss_table, row) for row in rows]

    async def cutouts(self, source_id: int) -> dict[str, dict]:
        """Stamps of one source: cutoutType -> {objectId, stamp}."""
        rows = await self._rows(self.cutout_statement, (int(source_id),))
        return {r["cutoutType"]: r for r in rows if r["cutoutType"] in CUTOUT_TYPES}


def reader(settings: Settings, session: Session) -> CassandraReader:
    """A reader on an open session (prepares its statements: blocking)."""
    return CassandraReader(settings, session)


def flux_to_mag(flux: float | None, fluxerr: float | None = None
                ) -> tuple[float | None, float | None]:
    """AB magnitude and its error of a flux in nJy (None for flux <= 0)."""
    if flux is None or not math.isfinite(flux) or flux <= 0:
        return None, None
    mag = AB_ZERO_NJY - 2.5 * math.log10(flux)
    err = None if fluxerr is None or not math.isfinite(fluxerr) else (
        MAG_PER_FLUX_FRACTION * fluxerr / flux)
    return mag, err


def mag_to_flux(mag: float, magerr: float | None = None) -> tuple[float, float | None]:
    """Flux (nJy) and its error of an AB magnitude."""
    flux = 10 ** ((AB_ZERO_NJY - mag) / 2.5)
    return flux, None if magerr is None else flux * magerr / MAG_PER_FLUX_FRACTION


def _finite(value: Any) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _point(mjd, band, kind, flux=None, fluxerr=None, mag=None, magerr=None, limit=None,
           source_id=None) -> dict:
    return {"mjd": mjd, "band": band, "kind": kind, "flux": flux, "fluxerr": fluxerr,
            "mag": mag, "magerr": magerr, "limit_mag": limit, "source_id": source_id}


def _ztf_points(rows: dict[str, Iterable[dict]]) -> list[dict]:
    points = []
    for r in rows.get("detections", ()):
        mag, err, jd = _finite(r.get("magpsf")), _finite(r.get("sigmapsf")), _finite(r.get("jd"))
        if mag is None or jd is None:
            continue
        flux, fluxerr = mag_to_flux(mag, err)
        if str(r.get("isdiffpos")) in ("f", "0"):
            flux = -flux
        points.append(_point(jd - 2400000.5, ZTF_BANDS.get(r.get("fid"), "?"), "detection",
                             flux, fluxerr, mag, err, source_id=r.get("candid")))
    for r in rows.get("forced", ()):
        f, ferr = _finite(r.get("forcediffimflux")), _finite(r.get("forcediffimfluxunc"))
        zp, jd = _finite(r.get("magzpsci")), _finite(r.get("jd"))
        if f is None or zp is None or jd is None or f == FORCED_MISSING:
            continue
        scale = 10 ** ((AB_ZERO_NJY - zp) / 2.5)
        flux, fluxerr = f * scale, None if ferr is None or ferr == FORCED_MISSING else ferr * scale
        mag, magerr = flux_to_mag(flux, fluxerr)
        points.append(_point(jd - 2400000.5, ZTF_BANDS.get(r.get("fid"), "?"), "forced",
                             flux, fluxerr, mag, magerr))
    for r in rows.get("nondetections", ()):
        lim, jd = _finite(r.get("diffmaglim")), _finite(r.get("jd"))
        if lim is None or jd is None:
            continue
        points.append(_point(jd - 2400000.5, ZTF_BANDS.get(r.get("fid"), "?"),
                             "nondetection", flux=mag_to_flux(lim)[0], limit=lim))
    return points


def _lsst_points(rows: dict[str, Iterable[dict]]) -> list[dict]:
    points = []
    for kind, label, source in (("detections", "detection", "diaSourceId"),
                                ("forced", "forced", None)):
        for r in rows.get(kind, ()):
            flux, err = _finite(r.get("psfFlux")), _finite(r.get("psfFluxErr"))
            mjd = _finite(r.get("midpointMjdTai"))
            if flux is None or mjd is None:
                continue
            mag, magerr = flux_to_mag(flux, err)
            points.append(_point(mjd, r.get("band") or "?", label, flux, err, mag, magerr,
                                 source_id=r.get(source) if source else None))
    for r in rows.get("nondetections", ()):
        noise, mjd = _finite(r.get("diaNoise")), _finite(r.get("midpointMjdTai"))
        if noise is None or mjd is None or noise <= 0:
            continue
        limit = RUBIN_LIMIT_SIGMA * noise
        points.append(_point(mjd, r.get("band") or "?", "nondetection", flux=limit,
                             limit=flux_to_mag(limit)[0]))
    return points


def photometry(survey: str, rows: dict[str, Iterable[dict]]) -> list[dict]:
    """Plot points of every kind, sorted by time (see the module docstring)."""
    points = _ztf_points(rows) if survey == "ztf" else _lsst_points(rows)
    return sorted(points, key=lambda p: p["mjd"])


def latest_source(survey: str, rows: dict[str, list[dict]]) -> int | None:
    """Id of the latest detection (its cutouts are shown)."""
    time_key, id_key = ("jd", "candid") if survey == "ztf" else ("midpointMjdTai",
                                                                  "diaSourceId")
    dets = [r for r in rows.get("detections", ()) if r.get(id_key) is not None]
    if not dets:
        return None
    return int(max(dets, key=lambda r: r.get(time_key) or 0)[id_key])
