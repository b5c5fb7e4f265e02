"""ZTF alerts (schemas 3.0-4.02): validation, normalisation, cloning, native fields.

A ZTF alert is one ``candidate`` (the triggering detection; ``jd`` in days, ``ra``/``dec``
in deg) with up to 30 days of ``prv_candidates`` (detections carry a ``candid``, upper
limits do not) and, from 4.0, ``fp_hists`` forced photometry; three gzipped-FITS cutouts.
"""
from __future__ import annotations

import base64
import math

import numpy as np

from solas.surveys import ztf_schema
from solas.surveys.clone import ClonePlan, RowSpec, clone_row, clone_rows, ztf_object_id
from solas.surveys.model import CUTOUT_KINDS, MJD_JD_OFFSET, Alert, DecodeError, RawAlert

SOURCE = 1
"""Id kind of candids (see :func:`solas.surveys.clone.new_id`)."""

_TIMES = frozenset({"jd", "jdstarthist", "jdendhist", "jdstartref", "jdendref"})
_RAS, _DECS = ("ra", "ranr"), ("dec", "decnr")
DETECTION_SPEC = RowSpec(ids={"candid": SOURCE}, ras=_RAS, decs=_DECS, days=_TIMES)
FORCED_SPEC = RowSpec(ras=_RAS, decs=_DECS, days=_TIMES)


def schema_version(record: dict) -> str:
    """``"ztf <schemavsn>"`` (``"ztf"`` if the record does not say)."""
    vsn = record.get("schemavsn")
    return f"ztf {vsn}" if vsn else "ztf"


def _number(row: dict, name: str, where: str) -> float:
    value = row.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DecodeError(f"ztf alert: {where}.{name} is missing or not a number ({value!r})")
    value = float(value)
    if not math.isfinite(value):
        raise DecodeError(f"ztf alert: {where}.{name} is not finite ({value})")
    return value


def _position(cand: dict) -> tuple[float, float]:
    ra, dec = _number(cand, "ra", "candidate"), _number(cand, "dec", "candidate")
    if not 0.0 <= ra <= 360.0:
        raise DecodeError(f"ztf alert: candidate.ra = {ra} deg is outside [0, 360]")
    if not -90.0 <= dec <= 90.0:
        raise DecodeError(f"ztf alert: candidate.dec = {dec} deg is outside [-90, 90]")
    return ra % 360.0, dec


def _stamp(cutout) -> bytes | None:
    """Stamp bytes of a cutout record (Avro) or its JSON rendering (base64 text)."""
    data = cutout.get("stampData") if isinstance(cutout, dict) else cutout
    if isinstance(data, str):
        try:
            return base64.b64decode(data, validate=True)
        except ValueError:
            raise DecodeError("ztf alert: cutout stampData is not valid base64") from None
    return data or None


def cutouts(record: dict) -> dict[str, bytes]:
    """``{"Science"|"Template"|"Difference": stamp bytes}`` of the cutouts present."""
    out = {}
    for kind in CUTOUT_KINDS:
        cutout = record.get(f"cutout{kind}")
        stamp = _stamp(cutout) if cutout else None
        if stamp:
            out[kind] = stamp
    return out


def normalise(raw: RawAlert) -> Alert:
    """Validate a ZTF record and map it to :class:`Alert` (raises :class:`DecodeError`)."""
    rec = raw.record
    object_id = rec.get("objectId")
    if not isinstance(object_id, str) or not object_id:
        raise DecodeError(f"ztf alert: objectId is missing or empty ({object_id!r})")
    cand = rec.get("candidate")
    if not isinstance(cand, dict):
        raise DecodeError(f"ztf alert {object_id}: candidate record is missing")
    candid = cand.get("candid")
    if isinstance(candid, bool) or not isinstance(candid, int):
        raise DecodeError(f"ztf alert {object_id}: candidate.candid is missing ({candid!r})")
    top = rec.get("candid")
    if top is not None and top != candid:
        raise DecodeError(f"ztf alert {object_id}: candid {top} differs from "
                          f"candidate.candid {candid}")
    ra, dec = _position(cand)
    mjd = _number(cand, "jd", "candidate") - MJD_JD_OFFSET
    prv = rec.get("prv_candidates") or []
    detections = [p for p in prv if p.get("candid") is not None]
    detections.append(cand)
    nondetections = [p for p in prv if p.get("candid") is None]
    version = raw.schema_version if raw.framing != "json" else schema_version(rec)
    return Alert("ztf", object_id, candid, ra, dec, mjd, version, {}, detections,
                 rec.get("fp_hists") or [], nondetections, cutouts(rec))


def clone(record: dict, index: int, rng: np.random.Generator, **options) -> dict:
    """Synthetic copy of a ZTF record (see :mod:`solas.surveys.clone`)."""
    cand = record.get("candidate") or {}
    dec0 = cand.get("dec") if isinstance(cand.get("dec"), (int, float)) else 0.0
    plan = ClonePlan.draw(index, float(dec0), rng, **options)
    new = dict(record)
    if isinstance(record.get("objectId"), str):
        new["objectId"] = ztf_object_id(record["objectId"], index)
    if "candid" in new:
        new["candid"] = plan.id(new["candid"], SOURCE)
    if isinstance(cand, dict) and cand:
        new["candidate"] = clone_row(cand, DETECTION_SPEC, plan)
    if "prv_candidates" in record:
        new["prv_candidates"] = clone_rows(record["prv_candidates"], DETECTION_SPEC, plan)
    if "fp_hists" in record:
        new["fp_hists"] = clone_rows(record["fp_hists"], FORCED_SPEC, plan)
    return new


def native_fields() -> dict[str, list[tuple[str, str]]]:
    """ZTF light-curve columns by kind (union over schemas 3.0-4.02)."""
    detections = list(ztf_schema.CANDIDATE)
    names = {n for n, _ in detections}
    detections += [f for f in ztf_schema.PRV_CANDIDATE if f[0] not in names]
    return {"detections": detections, "forced": list(ztf_schema.FP_HIST),
            "nondetections": list(ztf_schema.PRV_CANDIDATE), "object": []}
