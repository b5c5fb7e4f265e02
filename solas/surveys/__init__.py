"""Survey alert decoding, validation, normalisation and cloning (pure code, no I/O except
reading the files it is given).

ZTF alerts (Avro schemas 3.0-4.02) and Rubin alerts (lsst.v3_0-v11_1 Avro, lasair-style
JSON) are decoded with their writer schema (:func:`decode_packet`,
:func:`read_alert_file`), validated and mapped to a common :class:`Alert` that keeps the
survey's native column names (:func:`normalise`), re-encoded (:func:`encode_packet`) and
cloned into synthetic objects for load tests (:func:`clone_record`).
:func:`native_fields` gives the light-curve columns for the Cassandra column spec.
"""
from __future__ import annotations

import numpy as np

from solas.surveys import avro, lsst, ztf
from solas.surveys.avro import SchemaLookup, lsst_schema, lsst_schema_ids
from solas.surveys.model import (CUTOUT_KINDS, SURVEYS, Alert, DecodeError, RawAlert,
                                 SolarSystemAlertError)
from solas.surveys.packets import (check_survey, decode_packet, encode_packet,
                                   iter_alert_paths, json_survey, read_alert_file,
                                   to_confluent)

__all__ = [
    "Alert", "CUTOUT_KINDS", "DecodeError", "RawAlert", "SURVEYS", "SchemaLookup",
    "SolarSystemAlertError", "clone_record", "decode_packet", "encode_packet",
    "iter_alert_paths", "lsst_schema", "lsst_schema_ids", "native_fields", "normalise",
    "raw_survey", "read_alert_file", "to_confluent",
]

_NORMALISE = {"ztf": ztf.normalise, "lsst": lsst.normalise}
_CLONE = {"ztf": ztf.clone, "lsst": lsst.clone}
_NATIVE = {"ztf": ztf.native_fields, "lsst": lsst.native_fields}


def raw_survey(raw: RawAlert) -> str | None:
    """Survey of a raw alert judged from its writer schema (or JSON keys)."""
    if raw.schema is not None:
        return avro.entry_for(raw.schema).survey
    return json_survey(raw.record) if isinstance(raw.record, dict) else None


def _check_raw(raw: RawAlert, survey: str) -> None:
    check_survey(survey)
    if not isinstance(raw.record, dict):
        raise DecodeError(f"alert record must be a dict, not {type(raw.record).__name__}")
    found = raw_survey(raw)
    if found is not None and found != survey:
        raise DecodeError(f"alert is a {found} alert ({raw.schema_version}), but this "
                          f"deployment ingests {survey}")


def normalise(raw: RawAlert, survey: str) -> Alert:
    """Validate a decoded alert and map it to :class:`Alert`.

    Required: the object id (ZTF ``objectId``, Rubin ``diaObjectId``), the triggering
    source id (``candid``/``diaSourceId``), finite ``ra`` in [0, 360] and ``dec`` in
    [-90, 90] deg and a finite time (``jd``/``midpointMjdTai``). Raises
    :class:`DecodeError` naming the field and the writer schema.  A Rubin alert of a
    solar-system object without a diaObject is an alert (:attr:`Alert.is_solar_system`);
    :class:`SolarSystemAlertError` only when its solar-system parts disagree.
    """
    _check_raw(raw, survey)
    try:
        return _NORMALISE[survey](raw)
    except DecodeError as exc:
        if raw.schema_version not in exc.reason:  # name the writer schema
            exc.reason = f"{exc.reason} [schema {raw.schema_version}]"
            exc.args = (exc.reason,)
        raise
    except (AttributeError, TypeError, KeyError, ValueError) as exc:
        raise DecodeError(f"{survey} alert is malformed ({type(exc).__name__}: {exc}) "
                          f"[schema {raw.schema_version}]") from None


def clone_record(raw: RawAlert, survey: str, index: int, rng: np.random.Generator, *,
                 jitter_arcmin: float = 3.0, max_shift_days: float = 30.0) -> RawAlert:
    """Synthetic copy of an alert for load tests (see :mod:`solas.surveys.clone`).

    New ids for the object and every source, consistent in all nested records and a
    deterministic function of (original id, ``index``); all positions moved by one offset
    drawn from ``rng`` (uniform in a disc of ``jitter_arcmin`` arcmin, ra wrapped, dec
    clipped); all times shifted by one offset drawn from ``rng`` (uniform in
    ``±max_shift_days`` days). The clone keeps the writer schema, framing and codec, so
    :func:`encode_packet` encodes it.
    """
    _check_raw(raw, survey)
    record = _CLONE[survey](raw.record, index, rng, jitter_arcmin=jitter_arcmin,
                            max_shift_days=max_shift_days)
    return raw._replace(record=record)


def native_fields(survey: str) -> dict[str, list[tuple[str, str]]]:
    """Native columns by kind (``detections``, ``forced``, ``nondetections``, ``object``):
    ordered (field name, Avro primitive type) pairs, the union over every supported
    schema version (ZTF 3.0-4.02, Rubin v7.0-v11.x); nullability ignored; timestamps
    with a logical type give their primitive type (``long``)."""
    return _NATIVE[check_survey(survey)]()
