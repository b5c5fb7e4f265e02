"""Types shared by the survey decoders: raw and normalised alerts, decode errors.

Units used throughout ``solas.surveys``: positions in degrees (ICRS), times as
MJD (days; ZTF ``jd`` is converted with ``mjd = jd - 2400000.5``, Rubin times are
MJD TAI), fluxes as the survey wrote them (Rubin nJy).
"""
from __future__ import annotations

from typing import NamedTuple

SURVEYS = ("ztf", "lsst")
"""Surveys Solas can ingest (one per deployment)."""

CUTOUT_KINDS = ("Science", "Template", "Difference")
"""Cutout (postage stamp) kinds, as in the alert field names ``cutout<Kind>``."""

MJD_JD_OFFSET = 2400000.5
"""``jd - MJD_JD_OFFSET`` gives MJD (days)."""


class DecodeError(ValueError):
    """A packet or file that cannot be decoded or fails validation.

    ``reason`` (also ``str(error)``) is a specific, human-readable explanation that
    names the framing, schema or field at fault; the ingest agent forwards it to the
    dead-letter topic.
    """

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class SolarSystemAlertError(DecodeError):
    """A Rubin alert for a solar-system source: it has no ``diaObject`` (``diaObjectId``
    is null or 0) and only an ``ssObjectId``. Solas stores diaObjects only; callers may
    count and skip these rather than dead-letter them."""

    def __init__(self, reason: str, ss_object_id: int | None = None):
        super().__init__(reason)
        self.ss_object_id = ss_object_id


class RawAlert(NamedTuple):
    """One alert as the writer wrote it."""

    record: dict
    """fastavro-decoded record (or the parsed JSON object)."""
    schema: dict | None
    """fastavro-parsed writer schema (logical types removed: timestamps stay ints);
    ``None`` for JSON input."""
    schema_version: str
    """e.g. ``"ztf 3.3"``, ``"lsst.v10_0"``, ``"json"``."""
    framing: str
    """``"container"`` | ``"confluent"`` | ``"json"``."""
    codec: str
    """Container codec (``"null"``, ``"deflate"``, ``"snappy"``, ...); ``"null"`` otherwise."""
    schema_id: int | None
    """Confluent schema id when ``framing == "confluent"``, else ``None``."""


class Alert(NamedTuple):
    """A survey-normalised alert; light-curve rows keep the survey's native column names."""

    survey: str
    """``"ztf"`` | ``"lsst"``."""
    object_id: int | str
    """ZTF ``objectId`` (str) | Rubin ``diaObjectId`` (int, 64-bit exact)."""
    source_id: int
    """ZTF ``candid`` | Rubin ``diaSourceId`` of the triggering detection (64-bit exact)."""
    ra: float
    """Right ascension of the triggering detection, deg, in [0, 360)."""
    dec: float
    """Declination of the triggering detection, deg, in [-90, 90]."""
    mjd: float
    """MJD (days) of the triggering detection (ZTF ``jd - 2400000.5``; Rubin ``midpointMjdTai``)."""
    schema_version: str
    """Writer schema version, as in :attr:`RawAlert.schema_version`."""
    object: dict
    """Rubin ``diaObject`` native fields; ``{}`` for ZTF or when absent."""
    detections: list[dict]
    """Previous detections in packet order, then the triggering detection last (native rows)."""
    forced: list[dict]
    """Forced photometry rows (ZTF 4.x ``fp_hists``; Rubin ``prvDiaForcedSources``)."""
    nondetections: list[dict]
    """Upper limits (ZTF ``prv_candidates`` without ``candid``; Rubin ``prvDiaNondetectionLimits``)."""
    cutouts: dict[str, bytes]
    """``{"Science"|"Template"|"Difference": stamp bytes}``; ``{}`` if none."""
