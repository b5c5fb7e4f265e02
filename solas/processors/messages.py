"""Filter output messages (DESIGN section 5) as pure functions.

One JSON object per matching row: the keys are the SELECT aliases, plus ``UTC``;
output 3 adds ``alert`` with a lite light curve, output 4 the full alert (without
cutouts).  64-bit ids stay exact integers (orjson writes Python ints exactly).
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Mapping, Sequence

import orjson

OUTPUT_NONE, OUTPUT_EMAIL, OUTPUT_KAFKA, OUTPUT_KAFKA_LITE, OUTPUT_KAFKA_FULL = range(5)
LITE_FIELDS = {
    "ztf": ("candid", "jd", "fid", "magpsf", "sigmapsf", "isdiffpos", "ra", "dec"),
    "lsst": ("diaSourceId", "midpointMjdTai", "band", "psfFlux", "psfFluxErr", "ra", "dec"),
}
LITE_ALIASES = {"midPointTai": "midpointMjdTai", "filterName": "band"}
ALERT_ID_HEADER = "solas-alert-id"
"""Kafka header of every filter message an alert produced: the id of that alert (ZTF
``candid``, Rubin ``diaSourceId``) in decimal ASCII, so a consumer can drop a match it
already has for the same alert (exactly once per alert, checked by the consumer)."""


def alert_id_header(alert_id: int) -> tuple[str, bytes]:
    """The :data:`ALERT_ID_HEADER` header of a message produced by alert ``alert_id``
    (64-bit exact: written as decimal text, never as a float)."""
    return ALERT_ID_HEADER, str(int(alert_id)).encode()


def utc_now() -> str:
    """The ``UTC`` value of a message: ISO 8601, seconds."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def jsonable(value: Any) -> Any:
    """orjson ``default``: MariaDB decimals, dates and bytes as JSON values."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def lite_light_curve(alert: Mapping[str, Any]) -> list[dict]:
    """The detections of an ingested alert with only the columns a follow-up needs."""
    fields = LITE_FIELDS[alert["survey"]]
    out = []
    for point in alert.get("detections") or ():
        row = {LITE_ALIASES.get(k, k): v for k, v in point.items()}
        out.append({f: row.get(f) for f in fields})
    return out


def match_payload(keys: Sequence[str], row: Sequence[Any], utc: str) -> dict:
    """The row as a dict of SELECT aliases, plus ``UTC``."""
    return {**dict(zip(keys, row)), "UTC": utc}


def match_message(payload: dict, output: int, alert: Mapping[str, Any] | None) -> bytes:
    """The Kafka message of one match for output mode ``output``."""
    if output == OUTPUT_KAFKA_LITE and alert is not None:
        payload = {**payload, "alert": {"objectId": alert["object_id"],
                                        "lightcurve": lite_light_curve(alert)}}
    elif output == OUTPUT_KAFKA_FULL and alert is not None:
        payload = {**payload, "alert": alert}
    return orjson.dumps(payload, default=jsonable, option=orjson.OPT_NON_STR_KEYS)


def live_message(filter_id: int, filter_name: str, user: int | None, public: bool,
                 object_id: Any, payload: dict) -> bytes:
    """The compact summary on topic ``live`` for the WebSocket feed."""
    return orjson.dumps({"filter_id": filter_id, "filter_name": filter_name, "user": user,
                         "public": bool(public), "object_id": object_id,
                         "UTC": payload["UTC"], "row": payload},
                        default=jsonable, option=orjson.OPT_NON_STR_KEYS)
