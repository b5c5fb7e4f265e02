"""Rubin alerts (lsst.v3_0-v11_1 Avro, lasair-style JSON): validation, normalisation,
cloning, native fields.

A Rubin alert is one triggering ``diaSource`` (``midpointMjdTai`` MJD TAI days,
``ra``/``dec`` deg, fluxes nJy) with its ``diaObject`` summary, up to a year of
``prvDiaSources`` and ``prvDiaForcedSources`` and (v3-v7) ``prvDiaNondetectionLimits``.
Older schemas (v3/v4) and JSON renderings spell some names differently (``decl``,
``midPointTai``, ``coord_ra``; ``DiaObject``, ``DiaSourceList``,
``ForcedSourceOnDiaObjectList``): they are recognised, the rows keep their names.

Solar-system alerts: a diaSource associated with a known solar-system object carries
its ``ssObjectId``, and the alert its ``ssSource`` (v8+; ecliptic and heliocentric /
topocentric geometry of the detection), ``ssObject`` (v7: H, G12 per band) and the MPC
orbit (``MPCORB`` v8-v9, ``mpc_orbits`` v10+).  These become :attr:`Alert.solar_system`.
Most such alerts have no diaObject (``diaObjectId`` 0 or null): their
:attr:`Alert.object_id` is then the ``ssObjectId`` and :attr:`Alert.is_solar_system`
is true.  An alert with both keeps both: ``object_id`` is the diaObjectId.
"""
from __future__ import annotations

import base64
import math
from functools import lru_cache
from typing import Any

import numpy as np

from solas.surveys import avro
from solas.surveys.clone import ClonePlan, RowSpec, clone_row, clone_rows
from solas.surveys.model import (
    CUTOUT_KINDS,
    Alert,
    DecodeError,
    RawAlert,
    SolarSystemAlertError,
)

SOURCE, OBJECT, FORCED, ALERT, SS_OBJECT = 1, 2, 3, 4, 5
"""Id kinds (see :func:`solas.surveys.clone.new_id`)."""

NATIVE_SCHEMA_IDS = range(700, 100_000)
"""Schema ids whose fields make :func:`native_fields`: v7.0 onwards, including newer
schemas than lsst-alert-packet ships when the setting ``lsst_schema_dir`` holds them."""

# record part -> accepted key spellings (compared case-insensitively)
_PARTS = {
    "diaSource": ("diaSource",),
    "diaObject": ("diaObject",),
    "sources": ("prvDiaSources", "diaSourceList", "diaSourcesList", "diaSources",
                "candidates"),
    "forced": ("prvDiaForcedSources", "forcedSourceOnDiaObjectList", "diaForcedSourceList",
               "diaForcedSourcesList", "diaForcedSources", "forcedSources"),
    "nondetections": ("prvDiaNondetectionLimits", "diaNondetectionLimitList",
                      "diaNondetectionLimits"),
    "ssSource": ("ssSource",),
    "ssObject": ("ssObject",),
    "MPCORB": ("MPCORB",),
    "mpc_orbits": ("mpc_orbits",),
}
_PART_OF = {alias.lower(): part for part, aliases in _PARTS.items() for alias in aliases}

_RAS = ("ra", "coord_ra", "trailRa")
_DECS = ("dec", "decl", "coord_dec", "trailDec")
_SOURCE_TIMES = frozenset({"midpointMjdTai", "midPointTai", "timeProcessedMjdTai",
                           "timeWithdrawnMjdTai"})
SPECS = {
    "diaSource": RowSpec({"diaSourceId": SOURCE, "parentDiaSourceId": SOURCE,
                          "diaObjectId": OBJECT, "ssObjectId": SS_OBJECT}, _RAS, _DECS,
                         _SOURCE_TIMES,
                         frozenset({"time_processed"})),
    "diaObject": RowSpec({"diaObjectId": OBJECT}, _RAS, _DECS,
                         frozenset({"radecMjdTai", "radecTai", "firstDiaSourceMjdTai",
                                    "lastDiaSourceMjdTai", "validityStartMjdTai"}),
                         frozenset({"validityStart"})),
    "forced": RowSpec({"diaForcedSourceId": FORCED, "forcedSourceOnDiaObjectId": FORCED,
                       "diaObjectId": OBJECT}, _RAS, _DECS, _SOURCE_TIMES,
                      frozenset({"time_processed"})),
    "nondetections": RowSpec(days=frozenset({"midpointMjdTai", "midPointTai"})),
    "ssSource": RowSpec({"diaSourceId": SOURCE, "ssObjectId": SS_OBJECT}),
    "ssObject": RowSpec({"ssObjectId": SS_OBJECT}),
    "MPCORB": RowSpec({"ssObjectId": SS_OBJECT}),
    "mpc_orbits": RowSpec(),
}
SPECS["sources"] = SPECS["diaSource"]
_TOP_IDS = {"diaSourceId": SOURCE, "alertId": ALERT}


def parts(record: dict) -> dict[str, str]:
    """Map part name (``diaSource``, ``diaObject``, ``sources``, ``forced``,
    ``nondetections``, ``ssSource``, ``ssObject``, ``MPCORB``, ``mpc_orbits``) -> the key
    this record uses for it."""
    found: dict[str, str] = {}
    for key in record:
        part = _PART_OF.get(key.lower())
        if part is not None and part not in found:
            found[part] = key
    return found


def schema_version(raw_version: str | None, record: dict) -> str:
    """``lsst.vM_m`` from the schema name, else the record's ``lsst_schema_version``
    (brokers that re-wrap alerts), else ``"lsst"``."""
    if raw_version:
        return raw_version
    vsn = record.get("lsst_schema_version")
    return vsn if isinstance(vsn, str) and vsn else "lsst"


def _as_id(value: Any) -> int | None:
    """A 64-bit id as an exact int (JSON may carry it as a digit string), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _first(row: dict, names: tuple[str, ...]) -> Any:
    for name in names:
        value = row.get(name)
        if value is not None:
            return value
    return None


def _number(row: dict, names: tuple[str, ...], label: str) -> float:
    value = _first(row, names)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DecodeError(f"lsst alert: diaSource.{label} is missing or not a number "
                          f"({value!r})")
    value = float(value)
    if not math.isfinite(value):
        raise DecodeError(f"lsst alert: diaSource.{label} is not finite ({value})")
    return value


def _time(row: dict) -> float:
    value = _first(row, ("midpointMjdTai", "midPointTai"))
    return float(value) if isinstance(value, (int, float)) else -math.inf


def _trigger(record: dict, keys: dict[str, str]) -> tuple[dict, list[dict]]:
    """(triggering diaSource, previous diaSources)."""
    sources = record.get(keys["sources"]) if "sources" in keys else None
    sources = [s for s in sources or () if isinstance(s, dict)]
    source = record.get(keys["diaSource"]) if "diaSource" in keys else None
    if isinstance(source, dict):
        return source, sources
    if not sources:
        raise DecodeError("lsst alert: no diaSource (neither a diaSource record nor a list "
                          "of diaSources)")
    # JSON renderings with only a list of sources: the alert's own diaSourceId, else the latest
    wanted = _as_id(record.get("diaSourceId"))
    index = next((i for i, s in enumerate(sources)
                  if wanted is not None and _as_id(s.get("diaSourceId")) == wanted), None)
    if index is None:
        index = max(range(len(sources)), key=lambda i: _time(sources[i]))
    return sources[index], sources[:index] + sources[index + 1:]


SOLAR_SYSTEM_PARTS = ("ssSource", "ssObject", "MPCORB", "mpc_orbits")
"""Alert parts kept in :attr:`Alert.solar_system`, under these names."""


def _present(value: Any) -> dict | None:
    """A record that is there: a dict with some non-null value (Parquet renderings write
    an absent record as a record of nulls)."""
    if isinstance(value, dict) and any(v is not None for v in value.values()):
        return value
    return None


def solar_system_part(record: dict, keys: dict[str, str], source: dict) -> dict:
    """The :attr:`Alert.solar_system` of a record: ``ssObjectId`` and the solar-system
    records present; ``{}`` if the triggering diaSource has no ``ssObjectId`` and no
    ``ssSource``/``ssObject`` names one.  Raises :class:`SolarSystemAlertError` if the
    parts name different ``ssObjectId`` values."""
    found = {part: rec for part in SOLAR_SYSTEM_PARTS
             if part in keys and (rec := _present(record.get(keys[part]))) is not None}
    ids = {name: ss for name, row in (("diaSource", source), *found.items())
           if (ss := _as_id(row.get("ssObjectId")))}
    if len(set(ids.values())) > 1:
        named = ", ".join(f"{name}.ssObjectId {ss}" for name, ss in ids.items())
        raise SolarSystemAlertError(f"lsst alert: the solar-system parts disagree: {named}",
                                    next(iter(ids.values())))
    if not ids:
        return {}
    return {"ssObjectId": next(iter(ids.values())), **found}


def _object_id(source: dict, obj: dict, solar_system: dict) -> int:
    """The diaObjectId; for an alert of a solar-system object without a diaObject, its
    ssObjectId (see :attr:`Alert.is_solar_system`)."""
    oid = _as_id(obj.get("diaObjectId"))
    if not oid:
        oid = _as_id(source.get("diaObjectId"))
    if oid:
        return oid
    ss = solar_system.get("ssObjectId")
    if ss:
        return int(ss)
    raise DecodeError(f"lsst alert: diaObjectId is missing (no diaObject, and "
                      f"diaSource.diaObjectId is {source.get('diaObjectId')!r}) and no "
                      f"ssObjectId names a solar-system object")


def _stamp(value: Any) -> bytes | None:
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except ValueError:
            raise DecodeError("lsst alert: a cutout is not valid base64 text") from None
    return value or None


def cutouts(record: dict) -> dict[str, bytes]:
    """``{"Science"|"Template"|"Difference": stamp bytes}`` of the cutouts present."""
    out = {}
    for kind in CUTOUT_KINDS:
        stamp = _stamp(record.get(f"cutout{kind}"))
        if stamp:
            out[kind] = stamp
    return out


def normalise(raw: RawAlert) -> Alert:
    """Validate a Rubin record and map it to :class:`Alert` (raises :class:`DecodeError`)."""
    rec = raw.record
    keys = parts(rec)
    source, previous = _trigger(rec, keys)
    obj = rec.get(keys["diaObject"]) if "diaObject" in keys else None
    obj = obj if isinstance(obj, dict) else {}
    solar_system = solar_system_part(rec, keys, source)
    object_id = _object_id(source, obj, solar_system)
    source_id = _as_id(source.get("diaSourceId"))
    if source_id is None:
        raise DecodeError(f"lsst alert (diaObjectId {object_id}): diaSource.diaSourceId is "
                          f"missing ({source.get('diaSourceId')!r})")
    ra = _number(source, ("ra", "coord_ra"), "ra")
    dec = _number(source, ("dec", "decl", "coord_dec"), "dec")
    if not 0.0 <= ra <= 360.0:
        raise DecodeError(f"lsst alert: diaSource.ra = {ra} deg is outside [0, 360]")
    if not -90.0 <= dec <= 90.0:
        raise DecodeError(f"lsst alert: diaSource.dec = {dec} deg is outside [-90, 90]")
    mjd = _number(source, ("midpointMjdTai", "midPointTai"), "midpointMjdTai")
    previous.append(source)
    forced = rec.get(keys["forced"]) if "forced" in keys else None
    nondet = rec.get(keys["nondetections"]) if "nondetections" in keys else None
    return Alert("lsst", object_id, source_id, ra % 360.0, dec, mjd, raw.schema_version, obj,
                 previous, forced or [], nondet or [], cutouts(rec), solar_system)


def clone(record: dict, index: int, rng: np.random.Generator, **options) -> dict:
    """Synthetic copy of a Rubin record (see :mod:`solas.surveys.clone`)."""
    keys = parts(record)
    source = record.get(keys.get("diaSource", ""))
    dec0 = _first(source, ("dec", "decl", "coord_dec")) if isinstance(source, dict) else None
    dec0 = float(dec0) if isinstance(dec0, (int, float)) else 0.0
    plan = ClonePlan.draw(index, dec0, rng, **options)
    new = dict(record)
    for name, kind in _TOP_IDS.items():
        if name in new:
            new[name] = plan.id(new[name], kind)
    for part, key in keys.items():
        value = record[key]
        if isinstance(value, dict):
            new[key] = clone_row(value, SPECS[part], plan)
        elif isinstance(value, list):
            new[key] = clone_rows(value, SPECS[part], plan)
    return new


def _records(schema: Any, out: dict[str, dict]) -> dict[str, dict]:
    """Named record definitions of a schema JSON object, by short name."""
    if isinstance(schema, dict):
        if schema.get("type") == "record":
            out.setdefault(str(schema.get("name", "")).rsplit(".", 1)[-1], schema)
            for f in schema.get("fields", []):
                _records(f.get("type"), out)
        else:
            _records(schema.get("type"), out)
            _records(schema.get("items"), out)
    elif isinstance(schema, list):
        for s in schema:
            _records(s, out)
    return out


def _primitive(avro_type: Any) -> str:
    if isinstance(avro_type, list):
        branches = [t for t in avro_type if t != "null"]
        avro_type = branches[0] if len(branches) == 1 else "string"
    if isinstance(avro_type, dict):
        avro_type = avro_type.get("type")
    return avro_type if isinstance(avro_type, str) else "string"


_WIDER = {("int", "long"): "long", ("long", "int"): "long", ("float", "double"): "double",
          ("double", "float"): "double"}
_KIND_RECORD = {"detections": "diaSource", "forced": "diaForcedSource",
                "nondetections": "diaNondetectionLimit", "object": "diaObject"}


def _union_fields(records_by_key: dict[str, str]) -> dict[str, tuple[tuple[str, str], ...]]:
    """For each key, the ``(name, Avro primitive)`` fields of record ``records_by_key[key]``
    over every schema from lsst.v7_0 on, newest schema's order first; a field whose type
    changed gets the wider type (``string`` if none is)."""
    columns: dict[str, dict[str, str]] = {key: {} for key in records_by_key}
    for schema_id in sorted(avro.lsst_schema_ids(), reverse=True):
        if schema_id not in NATIVE_SCHEMA_IDS:
            continue
        records = _records(avro.lsst_schema(schema_id), {})
        for key, record_name in records_by_key.items():
            cols = columns[key]
            for f in records.get(record_name, {}).get("fields", []):
                t = _primitive(f["type"])
                old = cols.setdefault(f["name"], t)
                if old != t:
                    cols[f["name"]] = _WIDER.get((old, t), "string")
    return {key: tuple(cols.items()) for key, cols in columns.items()}


@lru_cache(maxsize=1)
def _native_fields() -> dict[str, tuple[tuple[str, str], ...]]:
    return _union_fields(_KIND_RECORD)


def native_fields() -> dict[str, list[tuple[str, str]]]:
    """Rubin light-curve and object columns by kind: union over every schema from
    lsst.v7_0 on (lsst-alert-packet's and the setting ``lsst_schema_dir``'s), newest
    schema's order first."""
    return {kind: list(cols) for kind, cols in _native_fields().items()}


@lru_cache(maxsize=1)
def _solar_system_fields() -> dict[str, tuple[tuple[str, str], ...]]:
    return _union_fields({part: part for part in SOLAR_SYSTEM_PARTS})


def solar_system_fields() -> dict[str, list[tuple[str, str]]]:
    """Native ``(name, Avro primitive)`` fields of the solar-system records ``ssSource``,
    ``ssObject``, ``MPCORB`` and ``mpc_orbits``: union over lsst.v7_0-v11_x (the records
    an alert schema carries), newest schema's order first."""
    return {part: list(cols) for part, cols in _solar_system_fields().items()}
