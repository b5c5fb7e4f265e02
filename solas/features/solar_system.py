"""Rows of the MariaDB solar-system tables from a batch of Rubin alerts (pure, no I/O).

An alert whose triggering diaSource belongs to a solar-system object
(:attr:`~solas.surveys.Alert.ss_object_id` set: with or without a diaObject) gives

* one ``ss_sources`` row: the diaSource's keys and photometry (``psfFlux`` nJy,
  ``midpointMjdTai`` MJD TAI, ``ra``/``decl`` deg) and every native ``ssSource`` column;
* one ``ss_objects`` row: the designation, the latest orbit as Rubin sends it
  (``mpc_orbits`` v10+, ``MPCORB`` v8-v9, ``ssObject`` v7, native names and units),
  the latest position, flux and ssSource geometry (:data:`~solas.schema.tables.SS_GEOMETRY`,
  v10 names whatever the schema).  It is written with a time guard on
  ``lastDiaSourceMjdTai`` (an older alert never overwrites the latest state);
* the per-object aggregates over every stored detection (counts per band, first/last
  MJD, latest flux and time per band) are then recomputed in MariaDB from
  ``ss_sources`` by :func:`aggregate_sql`: idempotent under replays and out-of-order
  alerts, one statement per batch.
"""
from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from solas.features.sky import healpix_index
from solas.schema.tables import BANDS, SS_GEOMETRY, solar_system_tables
from solas.surveys import Alert

ORBIT_PARTS = ("mpc_orbits", "MPCORB", "ssObject")
"""Solar-system records whose fields are ``ss_objects`` columns, the first present wins
for a column both carry (MPCORB and mpc_orbits share ``a``, ``e``, ``q``, ``node``)."""
OBJECT_TIME = "lastDiaSourceMjdTai"
"""The ``ss_objects`` time column guarding its upsert."""


class SolarSystemRows(NamedTuple):
    """The rows of one batch for each solar-system table (every row has every column
    of its table, ``None`` where unknown, so one multi-row statement writes them)."""

    objects: list[dict[str, Any]]
    """``ss_objects`` rows, one per alert (several alerts of one object: several rows,
    the time guard keeps the latest)."""
    sources: list[dict[str, Any]]
    """``ss_sources`` rows, one per alert."""


def dia_object_indices(alerts: Sequence[Alert]) -> list[int]:
    """Positions of the alerts that have a diaObject (not
    :attr:`~solas.surveys.Alert.is_solar_system`): those alone get ``objects`` rows,
    features, sky matches and classifications."""
    return [i for i, a in enumerate(alerts) if not a.is_solar_system]


def keep_positions(batch: Any, positions: Sequence[int]) -> Any:
    """A NamedTuple of equal-length lists (such as the filter stage's parsed batch) with
    only the items at ``positions`` in each list; ``batch`` itself if that is all."""
    if len(positions) == len(batch[0]):
        return batch
    return type(batch)(*([seq[i] for i in positions] for seq in batch))


def _number(value: Any) -> float | None:
    """A finite float, else ``None`` (NaN, infinities, text, bools)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _first(row: dict[str, Any], names: Sequence[str]) -> Any:
    for name in names:
        if row.get(name) is not None:
            return row[name]
    return None


def designation(solar_system: dict[str, Any]) -> str | None:
    """The object's MPC designation: ``mpc_orbits.designation``, else
    ``ssSource.designation`` (v10+), else ``MPCORB.mpcDesignation`` (packed form)."""
    for part, name in (("mpc_orbits", "designation"), ("ssSource", "designation"),
                       ("MPCORB", "mpcDesignation")):
        value = (solar_system.get(part) or {}).get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def source_row(alert: Alert, columns: Sequence[str]) -> dict[str, Any] | None:
    """The ``ss_sources`` row of ``alert`` (``None`` without an ssObjectId): every name of
    ``columns``; diaSource ``dec`` is stored as ``decl``."""
    ss_object_id = alert.ss_object_id
    if ss_object_id is None or not alert.detections:
        return None
    source = alert.detections[-1]
    ss_source = alert.solar_system.get("ssSource") or {}
    row = dict.fromkeys(columns)
    row.update((k, v) for k, v in ss_source.items() if k in row)
    row.update(diaSourceId=alert.source_id, ssObjectId=ss_object_id,
               midpointMjdTai=alert.mjd, ra=alert.ra, decl=alert.dec,
               diaObjectId=source.get("diaObjectId") or None,
               band=source.get("band") or source.get("filterName"))
    for name in ("psfFlux", "psfFluxErr", "snr", "reliability", "extendedness",
                 "trailLength"):
        row[name] = _number(source.get(name))
    return {k: (_number(v) if isinstance(v, float) else v) for k, v in row.items()}


def object_row(alert: Alert, columns: Sequence[str], now: dt.datetime
               ) -> dict[str, Any] | None:
    """The ``ss_objects`` row of ``alert`` as its latest state (``None`` without an
    ssObjectId): every name of ``columns``; the aggregates (counts, first MJD, per-band
    values) are left ``None`` for :func:`aggregate_sql`."""
    ss_object_id = alert.ss_object_id
    if ss_object_id is None or not alert.detections:
        return None
    source = alert.detections[-1]
    row = dict.fromkeys(columns)
    for part in reversed(ORBIT_PARTS):  # the first of ORBIT_PARTS present wins
        record = alert.solar_system.get(part) or {}
        row.update((k, v) for k, v in record.items() if k in row and v is not None)
    ss_source = alert.solar_system.get("ssSource") or {}
    for name, aliases in SS_GEOMETRY.items():
        row[name] = _number(_first(ss_source, aliases))
    row.update(ssObjectId=ss_object_id, designation=designation(alert.solar_system),
               ra=alert.ra, decl=alert.dec, lastDiaSourceMjdTai=alert.mjd,
               latest_psfFlux=_number(source.get("psfFlux")),
               latest_band=source.get("band") or source.get("filterName"),
               hpx16=int(healpix_index(np.array([alert.ra]), np.array([alert.dec]))[0]),
               timestamp=now)
    for name in aggregate_columns():
        row.pop(name, None)
    return {k: (_number(v) if isinstance(v, float) else v) for k, v in row.items()}


def solar_system_rows(alerts: Sequence[Alert], now: dt.datetime) -> SolarSystemRows:
    """The ``ss_objects`` and ``ss_sources`` rows of a batch (alerts of solar-system
    objects only; the others give none)."""
    objects_spec, sources_spec = solar_system_tables("lsst")
    objects, sources = [], []
    for alert in alerts:
        source = source_row(alert, sources_spec.column_names)
        if source is None:
            continue
        sources.append(source)
        obj = object_row(alert, objects_spec.column_names, now)
        if obj is not None:
            objects.append(obj)
    return SolarSystemRows(objects, sources)


def aggregate_columns() -> list[str]:
    """The ``ss_objects`` columns :func:`aggregate_sql` computes from ``ss_sources``."""
    cols = ["nDiaSources", "firstDiaSourceMjdTai"]
    cols += [f"n{b}Sources" for b in BANDS]
    for b in BANDS:
        cols += [f"{b}_latestMJD", f"{b}_psfFlux"]
    return cols


def aggregate_sql(objects: int) -> str:
    """One ``INSERT ... SELECT ... ON DUPLICATE KEY UPDATE`` recomputing, for ``objects``
    ssObjectIds (``%s`` parameters), the counts, first MJD, and per band the latest MJD
    and PSF flux (nJy) of their stored detections in ``ss_sources``; also moves
    ``lastDiaSourceMjdTai`` to the latest stored detection if that is later."""
    if objects < 1:
        raise ValueError(f"aggregate_sql needs at least one object, not {objects}")
    exprs = ["COUNT(*)", "MIN(s.midpointMjdTai)"]
    exprs += [f"SUM(s.band = '{b}')" for b in BANDS]
    for b in BANDS:
        exprs += [f"MAX(IF(s.band = '{b}', s.midpointMjdTai, NULL))",
                  # the flux of the latest detection in the band (GROUP_CONCAT skips NULL)
                  (f"SUBSTRING_INDEX(GROUP_CONCAT(IF(s.band = '{b}', s.psfFlux, NULL) "
                   f"ORDER BY s.midpointMjdTai DESC SEPARATOR ';'), ';', 1) + 0")]
    cols = aggregate_columns()
    names = ", ".join(f"`{c}`" for c in ["ssObjectId", *cols, OBJECT_TIME])
    select = ", ".join(["s.ssObjectId", *exprs, "MAX(s.midpointMjdTai)"])
    updates = [f"`{c}`=VALUES(`{c}`)" for c in cols]
    updates.append(f"`{OBJECT_TIME}`=GREATEST(COALESCE(`{OBJECT_TIME}`, "
                   f"VALUES(`{OBJECT_TIME}`)), VALUES(`{OBJECT_TIME}`))")
    marks = ", ".join(["%s"] * objects)
    return (f"INSERT INTO ss_objects ({names}) SELECT {select} FROM ss_sources AS s "
            f"WHERE s.ssObjectId IN ({marks}) GROUP BY s.ssObjectId "
            f"ON DUPLICATE KEY UPDATE {', '.join(updates)}")
