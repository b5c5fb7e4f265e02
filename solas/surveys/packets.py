"""Kafka messages and alert files <-> :class:`RawAlert`.

Framings: an Avro object container (``Obj\\x01`` magic; the writer schema in the
header), the Confluent wire format (byte 0, a 4-byte big-endian schema id, schemaless
Avro; the schema comes from a registry, Rubin's built in: id = major*100 + minor) and
JSON objects (lasair-style renderings).
"""
from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Iterable, Iterator

from solas.surveys import avro, lsst, renderings, ztf
from solas.surveys.avro import SchemaLookup
from solas.surveys.model import SURVEYS, DecodeError, RawAlert

ALERT_SUFFIXES = (".avro", ".json")
"""File name endings :func:`iter_alert_paths` picks up in folders."""


def check_survey(survey: str) -> str:
    """``survey`` if it is one Solas knows, else ``ValueError``."""
    if survey not in SURVEYS:
        raise ValueError(f"survey must be one of {SURVEYS}, not {survey!r}")
    return survey


def json_survey(record: dict) -> str | None:
    """Survey of a JSON alert judged from its keys (``None`` if neither)."""
    if "candidate" in record and "objectId" in record:
        return "ztf"
    if set(lsst.parts(record)) & {"diaSource", "diaObject", "sources"}:
        return "lsst"
    return None


def _version(entry: avro.WriterSchema, record: dict) -> str:
    if entry.survey == "ztf":
        return ztf.schema_version(record)
    return lsst.schema_version(entry.version, record)


def _expect(found: str | None, survey: str | None, what: str) -> str:
    """The packet's survey, checked against the deployment's (``survey``)."""
    if found is None:
        raise DecodeError(f"{what} is neither a ZTF nor a Rubin alert")
    if survey is not None and found != survey:
        raise DecodeError(f"packet is a {found} alert ({what}), but this deployment "
                          f"ingests {survey}")
    return found


def _schema_what(entry: avro.WriterSchema) -> str:
    if entry.survey is None:
        fields = ", ".join(avro._top_fields(entry.parsed)[:8])
        return f"writer schema {entry.name!r} with top-level fields {fields}"
    return f"writer schema {entry.name!r}"


def _container(data: bytes, survey: str | None, single: bool) -> list[RawAlert]:
    container = avro.parse_container(data)
    entry = container.entry
    _expect(entry.survey, survey, _schema_what(entry))
    if container.count == 0:
        raise DecodeError("Avro container holds no records")
    if single and container.count != 1:
        raise DecodeError(f"Avro container holds {container.count} records; a Kafka message "
                          f"must carry exactly one alert")
    return [RawAlert(rec, entry.parsed, _version(entry, rec), "container", container.codec,
                     None) for rec in avro.iter_container_records(container)]


def _confluent(data: bytes, survey: str, registry: SchemaLookup | None) -> RawAlert:
    schema_id = avro.confluent_schema_id(data)
    entry = avro.registry_schema(schema_id, survey, registry)
    _expect(entry.survey, survey, f"{_schema_what(entry)}, schema id {schema_id}")
    record, end = avro.read_record(entry, data, 5, f"Confluent frame (schema id {schema_id})")
    if end != len(data):
        raise DecodeError(f"corrupt Confluent frame: {len(data) - end} bytes left after the "
                          f"{entry.name} record (wrong schema id {schema_id}?)")
    return RawAlert(record, entry.parsed, _version(entry, record), "confluent", "null",
                    schema_id)


def _json(data: bytes, survey: str | None, many: bool) -> list[RawAlert]:
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DecodeError(f"invalid JSON ({exc})") from None
    values = value if many and isinstance(value, list) else [value]
    out = []
    for record in values:
        if not isinstance(record, dict):
            raise DecodeError(f"JSON alert must be an object, not {type(record).__name__}")
        _expect(json_survey(record), survey,
                f"JSON object with keys {', '.join(list(record)[:8])}")
        out.append(RawAlert(record, None, "json", "json", "null", None))
    return out


def _framing(data: bytes) -> str:
    if data[:4] == avro.MAGIC:
        return "container"
    if data[0] == avro.CONFLUENT_MAGIC:
        return "confluent"
    if data.lstrip()[:1] in (b"{", b"["):
        return "json"
    raise DecodeError(f"unrecognised framing: packet starts {data[:8]!r}; expected an Avro "
                      f"container (b'Obj\\x01'), a Confluent frame (magic byte 0) or JSON")


def decode_packet(data: bytes, survey: str, *,
                  registry: SchemaLookup | None = None) -> RawAlert:
    """Decode ONE Kafka message with its writer schema.

    ``data``: an Avro container holding exactly one record, a Confluent frame, or a JSON
    object. ``registry``: schema id -> schema for Confluent frames (default: Rubin's
    schemas from lsst-alert-packet for ``lsst``, none for ``ztf``). Raises
    :class:`DecodeError` with a specific reason for empty, truncated or corrupt packets,
    unknown schema ids and packets of another survey.
    """
    check_survey(survey)
    if not data:
        raise DecodeError("empty packet (0 bytes)")
    data = bytes(data)
    framing = _framing(data)
    if framing == "container":
        return _container(data, survey, single=True)[0]
    if framing == "confluent":
        return _confluent(data, survey, registry)
    return _json(data, survey, many=False)[0]


def _json_default(value):
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def encode_packet(raw: RawAlert) -> bytes:
    """Inverse of :func:`decode_packet`: a one-record container with the writer schema and
    the original codec (the original header when known), a Confluent frame with the same
    schema id, or UTF-8 JSON (bytes as base64)."""
    if raw.framing == "container":
        return avro.encode_container(raw.record, raw.schema, raw.codec)
    if raw.framing == "confluent":
        if raw.schema_id is None:
            raise ValueError("a Confluent-framed RawAlert needs its schema_id")
        return avro.confluent_frame(raw.record, raw.schema, raw.schema_id)
    if raw.framing == "json":
        return json.dumps(raw.record, separators=(",", ":"), default=_json_default).encode()
    raise ValueError(f"unknown framing {raw.framing!r}")


def _project(value, avro_type, named: dict):
    """``value`` reshaped to ``avro_type``: fields the type lacks dropped, missing ones
    defaulted, all-null records in nullable slots (how some brokers re-wrap alerts)
    made null."""
    while isinstance(avro_type, str) and avro_type in named:
        avro_type = named[avro_type]
    if isinstance(avro_type, list):
        if value is None:
            return None
        branches = [b for b in avro_type if b != "null"]
        if len(branches) != 1:
            return value
        branch = branches[0]
        while isinstance(branch, str) and branch in named:
            branch = named[branch]
        if (len(avro_type) == 2 and isinstance(branch, dict) and branch.get("type") == "record"
                and isinstance(value, dict) and all(v is None for v in value.values())):
            return None
        return _project(value, branch, named)
    if isinstance(avro_type, dict):
        kind = avro_type.get("type")
        if kind == "record" and isinstance(value, dict):
            return {f["name"]: _project(value.get(f["name"], f.get("default")), f["type"], named)
                    for f in avro_type["fields"]}
        if kind == "array" and isinstance(value, list):
            return [_project(v, avro_type["items"], named) for v in value]
        if isinstance(kind, (dict, list)) or (isinstance(kind, str) and kind in named):
            return _project(value, kind, named)
    return value


def to_confluent(raw: RawAlert, schema_id: int | None = None, *,
                 registry: SchemaLookup | None = None) -> RawAlert:
    """A Rubin alert re-framed as the Rubin stream sends it: Confluent wire format with an
    official schema id (default: the alert's own version, ``lsst.vM_m`` -> M*100 + m).

    The record is projected onto that schema: fields it lacks (broker additions) are
    dropped, missing ones take their defaults, all-null sub-records become null. Raises
    :class:`DecodeError` if no schema id can be found.
    """
    if schema_id is None:
        m = avro._LSST_NAME.search(raw.schema_version or "")
        if m is None:
            raise DecodeError(f"no Rubin schema id for schema version {raw.schema_version!r}")
        schema_id = int(m.group(1)) * 100 + int(m.group(2))
    entry = avro.registry_schema(schema_id, "lsst", registry)
    record = _project(raw.record, entry.parsed, entry.parsed.get("__named_schemas", {}))
    return RawAlert(record, entry.parsed, _version(entry, record), "confluent", "null",
                    schema_id)


def read_alert_file(path: str | Path, survey: str | None = None, *,
                    registry: SchemaLookup | None = None) -> list[RawAlert]:
    """Every alert in a file: an Avro container (1..n records), a Confluent-framed file,
    a JSON file (an object or a list of objects), or a broker's rendering of Rubin alerts
    (a Parquet file, or a tar archive of bare message values with their ``schema.json``),
    given back as the Confluent frames Rubin streams (:mod:`solas.surveys.renderings`).
    ``survey`` (if given) is enforced, otherwise judged from the schema or keys. Raises
    :class:`DecodeError` naming the file (and the row or member at fault).
    """
    path = Path(path)
    if survey is not None:
        check_survey(survey)
    try:
        data = path.read_bytes()
        if not data:
            raise DecodeError("empty file (0 bytes)")
        rendering = renderings.rendering_kind(path.name, data)
        if rendering is not None:
            _expect("lsst", survey, f"{rendering} rendering of Rubin alerts")
            return renderings.read_rendering(rendering, data)
        framing = _framing(data)
        if framing == "container":
            return _container(data, survey, single=False)
        if framing == "json":
            return _json(data, survey, many=True)
        if survey is None:
            # a Confluent frame carries no survey: try Rubin's registry, the only built-in
            return [_confluent(data, "lsst", registry)]
        return [_confluent(data, survey, registry)]
    except DecodeError as exc:
        raise DecodeError(f"{path}: {exc.reason}") from None


def iter_alert_paths(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Alert files among ``paths``: files as given, folders searched recursively (sorted,
    ``.avro``/``.json`` files and the renderings of :data:`renderings.SUFFIXES` only,
    compared in lower case; hidden files skipped). Missing paths raise
    ``FileNotFoundError``."""
    suffixes = (*ALERT_SUFFIXES, *renderings.SUFFIXES)
    for p in paths:
        p = Path(p)
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                rel = f.relative_to(p).parts
                if (f.is_file() and f.name.lower().endswith(suffixes)
                        and not any(part.startswith(".") for part in rel)):
                    yield f
        elif p.is_file():
            yield p
        else:
            raise FileNotFoundError(f"no such alert file or folder: {p}")
