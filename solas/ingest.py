"""The ingest step as pure functions: packets in, alerts and dead letters out.

No I/O here: the ingest agent owns the loop, the stores and the metrics.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import orjson

from solas.surveys import Alert, DecodeError, SchemaLookup, decode_packet, normalise
from solas.surveys.registry import RegistryUnavailable


class DeadLetter(NamedTuple):
    """A packet that could not be ingested, with why."""

    index: int          # position in the batch
    stage: str          # "decode", "validate" or "store" (data Cassandra refuses);
                        # Rubin solar-system alerts are alerts, not dead letters
    reason: str         # specific, human-readable
    packet: bytes       # the original bytes, untouched


class DecodedBatch(NamedTuple):
    """A batch split into normalised alerts (with batch positions) and dead letters."""

    alerts: list[Alert]
    positions: list[int]
    dead: list[DeadLetter]


def decode_batch(packets: Sequence[bytes], survey: str,
                 registry: SchemaLookup | None = None) -> DecodedBatch:
    """Decode and validate every packet; failures become dead letters.  Raises
    :class:`RegistryUnavailable` (the batch must be retried, the packets may be fine)."""
    alerts, positions, dead = [], [], []
    for index, packet in enumerate(packets):
        try:
            raw = decode_packet(packet, survey, registry=registry)
        except RegistryUnavailable:
            raise
        except Exception as exc:  # a worker must survive any packet
            dead.append(DeadLetter(index, "decode", _reason(exc), packet))
            continue
        try:
            alerts.append(normalise(raw, survey))
            positions.append(index)
        except Exception as exc:
            dead.append(DeadLetter(index, "validate", _reason(exc), packet))
    return DecodedBatch(alerts, positions, dead)


def _reason(exc: Exception) -> str:
    if isinstance(exc, DecodeError):
        return str(exc)
    return f"unexpected {type(exc).__name__}: {exc}"


def ingested_record(alert: Alert, raw_timestamp_ms: int | None) -> bytes:
    """The JSON forwarded on topic ``ingested``: the alert without cutouts.

    64-bit ids stay exact integers; non-finite floats become ``null``."""
    body = alert._asdict()
    del body["cutouts"]
    body["raw_timestamp_ms"] = raw_timestamp_ms
    return orjson.dumps(body, default=_jsonable)  # writes NaN and infinities as null


#: Headers of every ``ingested`` message giving the alert's position (``repr`` of the
#: float, degrees), so the sherlock stage finds it without parsing the whole record.
RA_HEADER, DEC_HEADER = "solas-ra", "solas-dec"
#: Header ``b"1"`` on the ``ingested`` message of an alert of a solar-system object
#: without a diaObject (:attr:`Alert.is_solar_system`): it gets no sky context.
SOLAR_SYSTEM_HEADER = "solas-solar-system"


def position_headers(alert: Alert) -> dict[str, bytes]:
    """The :data:`RA_HEADER` and :data:`DEC_HEADER` of ``alert`` (exact float text), and
    :data:`SOLAR_SYSTEM_HEADER` for an alert of a solar-system object without a
    diaObject."""
    headers = {RA_HEADER: repr(float(alert.ra)).encode(),
               DEC_HEADER: repr(float(alert.dec)).encode()}
    if alert.is_solar_system:
        headers[SOLAR_SYSTEM_HEADER] = b"1"
    return headers


def alert_from_ingested(data: bytes) -> tuple[Alert, int | None]:
    """Inverse of :func:`ingested_record` (cutouts are not carried)."""
    return alert_from_body(orjson.loads(data))


def alert_from_body(body: dict) -> tuple[Alert, int | None]:
    """:func:`alert_from_ingested` of an already parsed record; ``body`` is left as it is
    (the alert shares its light-curve lists)."""
    fields = dict(body)
    raw_timestamp_ms = fields.pop("raw_timestamp_ms", None)
    return Alert(**fields, cutouts={}), raw_timestamp_ms


def _jsonable(value):
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")
