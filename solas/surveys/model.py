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
    """A Rubin alert for a solar-system source that cannot be read as one: no
    ``diaObject`` (``diaObjectId`` null or 0) and its solar-system part is unusable
    (e.g. ``ssSource.ssObjectId`` disagrees with ``diaSource.ssObjectId``).  Readable
    solar-system alerts are normalised (see :attr:`Alert.is_solar_system`)."""

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
    solar_system: dict = {}
    """Rubin solar-system part, ``{}`` when none (always for ZTF): ``ssObjectId`` (int),
    and the native records the alert carries, under their alert key: ``ssSource``
    (v8+), ``ssObject`` (v7), the orbit ``MPCORB`` (v8-v9) or ``mpc_orbits`` (v10+).
    Never mutated (the default is shared)."""

    @property
    def ss_object_id(self) -> int | None:
        """The Rubin ``ssObjectId`` of the alert's solar-system object, else ``None``."""
        return self.solar_system.get("ssObjectId")

    @property
    def is_solar_system(self) -> bool:
        """True for a Rubin alert of a solar-system object WITHOUT a diaObject: its
        :attr:`object_id` is then the ``ssObjectId`` (not a ``diaObjectId``), it has no
        ``objects`` row, no features and no sky context.  An alert with both a diaObject
        and an ``ssSource`` is not one of these (its :attr:`object_id` is the
        diaObjectId; :attr:`ss_object_id` still names its solar-system object)."""
        if self.ss_object_id is None:
            return False
        trigger = self.detections[-1] if self.detections else {}
        return not (_nonzero(self.object.get("diaObjectId"))
                    or _nonzero(trigger.get("diaObjectId")))


def _nonzero(value: object) -> bool:
    """An id that is set: not null, 0 or a JSON rendering's ``"0"``."""
    return str(value if value is not None else 0).strip() not in ("0", "")
