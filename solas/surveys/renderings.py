"""Broker renderings of real Rubin alerts turned back into the packets Rubin streams.

Two renderings ship with the sample data (``data/SOURCES.md``):

* **Parquet** (one broker's Spark rendering of lsst.v10_0 alerts, Avro-in-Parquet): one row
  per alert, every field nullable, a null record (``diaObject``, ``ssSource``,
  ``mpc_orbits``) written as a struct of all nulls, ints widened to int64 (in one file
  some ids and counts to double), floats to double, and extra broker columns
  (``brokerIngestMjd``, ``clf``, ``xm``, ...). :func:`parquet_alerts` keeps only the
  official schema's fields, makes all-null records null, takes ids written as doubles
  back from their exact copy in the diaSource (:func:`restore_ids`), coerces every value
  to its official Avro type (cutout bytes kept) and checks that the record encodes with
  the official writer schema.
* **tar.gz of Kafka message values** (bare schemaless Avro datums, the 5-byte Confluent
  header stripped, ``00_<offset>.avro``) with the writer schema ``schema.json``:
  :func:`tar_alerts` checks that the shipped schema is an official Rubin schema (same
  parsing canonical form) and decodes each datum with it.

Both give :class:`RawAlert` s framed as Rubin streams them: the Confluent wire format with
the official schema id (``major * 100 + minor``; lsst.v10_0 = 1000, lsst.v9_0 = 900).
Anything malformed raises :class:`DecodeError` naming the row or member (the caller adds
the file). Pure code: the readers take the file's bytes.
"""
from __future__ import annotations

import io
import json
import tarfile
import zlib
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
from fastavro.schema import to_parsing_canonical_form

from solas.surveys import avro
from solas.surveys.model import DecodeError, RawAlert

PARQUET_MAGIC = b"PAR1"
"""First (and last) four bytes of a Parquet file."""
GZIP_MAGIC = b"\x1f\x8b"
"""First two bytes of a gzip stream."""
DEFAULT_SCHEMA_ID = 1000
"""Official Rubin schema id of a Parquet row without an ``lsst_schema_version`` column
(the shipped renderings are lsst.v10_0)."""
SUFFIXES = (".parquet", ".tar.gz", ".tgz", ".tar")
"""File name endings of renderings (lower case): Parquet files and tar archives."""
TAR_SCHEMA_NAME = "schema.json"
"""Name of the writer schema member in a tar of message values."""
TAR_DATUM_SUFFIX = ".avro"
"""Name ending of the datum members in a tar of message values."""

EXACT_DOUBLE = 2**53
"""Largest magnitude below which every integer is exact as a double."""
ID_COPIES = {"diaObject": ("diaObjectId",), "ssSource": ("diaSourceId", "ssObjectId")}
"""Ids of the nullable records that repeat an id of the triggering ``diaSource``."""
_INT_RANGE = {"int": (-2**31, 2**31 - 1), "long": (-2**63, 2**63 - 1)}
"""Value ranges of the Avro integer types."""


# --------------------------------------------------------------------------- values
Converter = Callable[[Any], Any]
"""Turns one rendered value into the value of its official Avro type (raises :class:`_Misfit`)."""


class _Misfit(Exception):
    """A value that does not fit its official type; ``path`` grows as it propagates up."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
        self.path: list[str] = []

    def message(self, where: str) -> str:
        """The reason, prefixed with ``where`` and the field's path below it."""
        field = "".join(reversed(self.path)).lstrip(".")
        return f"{where}: {field or 'value'} {self.reason}"


def is_all_null(value: Any) -> bool:
    """True for a struct (dict) whose every value is null or itself an all-null struct
    (how Spark writes a null record)."""
    return isinstance(value, dict) and all(v is None or is_all_null(v)
                                           for v in value.values())


def _check_int(kind: str) -> Converter:
    lo, hi = _INT_RANGE[kind]

    def convert(value: Any) -> Any:
        if type(value) is int and lo <= value <= hi:
            return value
        if isinstance(value, float) and value.is_integer():
            if abs(value) > EXACT_DOUBLE:
                raise _Misfit(f"= {value!r} is a double beyond 2**53 where the official "
                              f"schema has an exact {kind}: the value is lost")
            return convert(int(value))
        if isinstance(value, int) and not isinstance(value, bool):
            if lo <= value <= hi:
                return int(value)
            raise _Misfit(f"= {value} does not fit an Avro {kind}")
        raise _Misfit(f"must be an {kind}, not {value!r}")
    return convert


def _check_float(kind: str) -> Converter:
    def convert(value: Any) -> Any:
        if type(value) is float:
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise _Misfit(f"must be a {kind}, not {value!r}")
    return convert


def _check_type(kind: str, types: tuple[type, ...], cast: Callable[[Any], Any]) -> Converter:
    def convert(value: Any) -> Any:
        if isinstance(value, types):
            return cast(value)
        raise _Misfit(f"must be a {kind}, not {type(value).__name__}")
    return convert


def _check_null(value: Any) -> None:
    if value is not None:
        raise _Misfit(f"must be null, not {value!r}")


def _primitive_converter(kind: str) -> Converter:
    if kind == "null":
        return _check_null
    if kind in _INT_RANGE:
        return _check_int(kind)
    if kind in ("float", "double"):
        return _check_float(kind)
    if kind == "boolean":
        return _check_type(kind, (bool,), bool)
    if kind == "string":
        return _check_type(kind, (str,), str)
    if kind == "bytes":
        return _check_type(kind, (bytes, bytearray, memoryview), bytes)
    raise ValueError(f"Avro type {kind!r} is not supported in renderings")


def _required(convert: Converter, kind: str) -> Converter:
    def required(value: Any) -> Any:
        if value is None:
            raise _Misfit(f"is null, but the official schema requires a {kind}")
        return convert(value)
    return required


def _union_converter(branches: list[Any], nullable: bool, named: dict[str, Any],
                     built: dict[str, Converter]) -> Converter:
    converters = [_build(b, named, built) for b in branches]
    records = all(_kind(b, named) == "record" for b in branches)

    def union(value: Any) -> Any:
        if value is None:
            if nullable:
                return None
            raise _Misfit("is null, but the official schema requires a value")
        if nullable and records and is_all_null(value):
            return None
        if len(converters) == 1:
            return converters[0](value)
        reasons = []
        for convert in converters:
            try:
                return convert(value)
            except _Misfit as exc:
                reasons.append(exc.reason)
        raise _Misfit(f"fits no branch of its union ({'; '.join(reasons)})")
    return union


def _record_converter(avro_type: dict[str, Any], named: dict[str, Any],
                      built: dict[str, Converter]) -> Converter:
    fields: list[tuple[str, Converter, bool, Any]] = []

    def record(value: Any) -> Any:
        if not isinstance(value, dict):
            raise _Misfit(f"must be a record, not {type(value).__name__}")
        out = {}
        for name, convert, has_default, default in fields:
            if name in value:
                try:
                    out[name] = convert(value[name])
                except _Misfit as exc:
                    exc.path.append(f".{name}")
                    raise
            elif has_default:
                out[name] = default
            else:
                missing = _Misfit("is missing and has no default")
                missing.path.append(f".{name}")
                raise missing
        return out

    if avro_type.get("name"):
        built[avro_type["name"]] = record  # before the fields: a type may refer to itself
    for f in avro_type["fields"]:
        fields.append((f["name"], _build(f["type"], named, built), "default" in f,
                       f.get("default")))
    return record


def _array_converter(items: Any, named: dict[str, Any],
                     built: dict[str, Converter]) -> Converter:
    convert = _build(items, named, built)

    def array(value: Any) -> Any:
        if not isinstance(value, (list, tuple)):
            raise _Misfit(f"must be an array, not {type(value).__name__}")
        out = []
        for i, item in enumerate(value):
            try:
                out.append(convert(item))
            except _Misfit as exc:
                exc.path.append(f"[{i}]")
                raise
        return out
    return array


def _map_converter(values: Any, named: dict[str, Any],
                   built: dict[str, Converter]) -> Converter:
    convert = _build(values, named, built)

    def mapping(value: Any) -> Any:
        if not isinstance(value, (dict, list)):
            raise _Misfit(f"must be a map, not {type(value).__name__}")
        pairs = value.items() if isinstance(value, dict) else value  # Arrow maps: [(k, v)]
        out = {}
        for k, v in pairs:
            try:
                out[str(k)] = convert(v)
            except _Misfit as exc:
                exc.path.append(f"[{k!r}]")
                raise
        return out
    return mapping


def _enum_converter(symbols: list[str]) -> Converter:
    def enum(value: Any) -> Any:
        if value not in symbols:
            raise _Misfit(f"= {value!r} is not a symbol of its enum")
        return value
    return enum


def _fixed_converter(size: int) -> Converter:
    as_bytes = _primitive_converter("bytes")

    def fixed(value: Any) -> Any:
        value = as_bytes(value)
        if len(value) != size:
            raise _Misfit(f"must be {size} bytes, not {len(value)}")
        return value
    return fixed


def _kind(avro_type: Any, named: dict[str, Any]) -> Any:
    while isinstance(avro_type, str) and avro_type in named:
        avro_type = named[avro_type]
    return avro_type.get("type") if isinstance(avro_type, dict) else avro_type


def _build(avro_type: Any, named: dict[str, Any], built: dict[str, Converter]) -> Converter:
    """The converter of one (fastavro-parsed) Avro type; ``built``: converters of the
    named types made so far (each named type is made once)."""
    if isinstance(avro_type, str) and avro_type in named:  # a named type used again
        if avro_type not in built:
            built[avro_type] = _build(named[avro_type], named, built)
        return built[avro_type]
    if isinstance(avro_type, list):
        branches = [b for b in avro_type if b != "null"]
        return _union_converter(branches, len(branches) < len(avro_type), named, built)
    if isinstance(avro_type, dict):
        kind = avro_type.get("type")
        if kind == "record":
            return _required(_record_converter(avro_type, named, built), "record")
        if kind == "array":
            return _required(_array_converter(avro_type["items"], named, built), "array")
        if kind == "map":
            return _required(_map_converter(avro_type["values"], named, built), "map")
        if kind == "enum":
            return _required(_enum_converter(list(avro_type.get("symbols", ()))), "enum")
        if kind == "fixed":
            return _required(_fixed_converter(int(avro_type["size"])), "fixed")
        return _build(kind, named, built)
    kind = str(avro_type)
    convert = _primitive_converter(kind)
    return convert if kind == "null" else _required(convert, kind)


def converter(avro_type: Any) -> Converter:
    """A function turning a value as a Parquet rendering gives it into a value of the
    (fastavro-parsed) official ``avro_type``: record fields the type lacks dropped, a
    missing field given its default, an all-null struct in a nullable record slot made
    null, ints checked against the int/long range, doubles given as ``float`` (Avro
    ``float`` fields keep the value; the encoder rounds it to 32 bits as Rubin's did),
    strings, booleans and bytes checked. Raises ``ValueError`` for Avro types that no
    Rubin schema uses."""
    named = avro_type.get("__named_schemas", {}) if isinstance(avro_type, dict) else {}
    return _build(avro_type, named, {})


def official_value(value: Any, avro_type: Any, where: str = "value") -> Any:
    """``value`` converted by :func:`converter` of ``avro_type``; :class:`DecodeError`
    naming the field at fault (``where``: the value's own name) if it does not fit."""
    try:
        return converter(avro_type)(value)
    except _Misfit as exc:
        raise DecodeError(exc.message(where)) from None


@lru_cache(maxsize=32)
def _alert_converter(schema_id: int) -> Converter:
    return converter(_official_entry(schema_id).parsed)


def schema_id_of(version: Any, default: int = DEFAULT_SCHEMA_ID) -> int:
    """Official Rubin schema id of a ``lsst.vM_m`` version string (``None`` -> ``default``);
    :class:`DecodeError` if it is not one lsst-alert-packet ships."""
    if version is None:
        return default
    m = avro._LSST_NAME.fullmatch(str(version))
    if m is None:
        raise DecodeError(f"lsst_schema_version {version!r} is not a Rubin schema version "
                          f"(lsst.vM_m)")
    schema_id = int(m.group(1)) * 100 + int(m.group(2))
    if schema_id not in avro.lsst_schema_ids():
        raise DecodeError(f"lsst_schema_version {version!r}: no such official schema in "
                          f"lsst-alert-packet (known ids: "
                          f"{', '.join(map(str, avro.lsst_schema_ids()))})")
    return schema_id


def _official_entry(schema_id: int) -> avro.WriterSchema:
    return avro.registry_schema(schema_id, "lsst", None)


def restore_ids(row: dict[str, Any]) -> dict[str, Any]:
    """A Parquet row whose renderer wrote some 64-bit ids of ``diaObject``/``ssSource``
    as doubles (exact only up to 2**53) with those ids taken back from the exact copy in
    its ``diaSource`` (:data:`ID_COPIES`), where that copy rounds to the same double;
    other values are left for :func:`official_alert` to judge."""
    source = row.get("diaSource")
    if not isinstance(source, dict):
        return row
    new = row
    for part, names in ID_COPIES.items():
        value = row.get(part)
        if not isinstance(value, dict):
            continue
        for name in names:
            double, exact = value.get(name), source.get(name)
            if (isinstance(double, float) and type(exact) is int
                    and float(exact) == double):
                if new is row:
                    new = dict(row)
                if new[part] is value:
                    new[part] = value = dict(value)
                value[name] = exact
    return new


def official_alert(row: dict[str, Any], schema_id: int, where: str = "row") -> RawAlert:
    """One Parquet row (a dict, as ``pyarrow.Table.to_pylist`` gives it) as the official
    Rubin alert of ``schema_id``, Confluent-framed; :class:`DecodeError` if it does not
    fit or does not encode with the official writer schema."""
    entry = _official_entry(schema_id)
    try:
        record = _alert_converter(schema_id)(row)
    except _Misfit as exc:
        raise DecodeError(exc.message(where)) from None
    try:
        entry.write(record)
    except ValueError as exc:
        raise DecodeError(f"{where} does not encode with {entry.name}: {exc}") from None
    return RawAlert(record, entry.parsed, entry.version or f"lsst schema {schema_id}",
                    "confluent", "null", schema_id)


def _source_id(record: dict[str, Any]) -> Any:
    source = record.get("diaSource")
    return record.get("diaSourceId") or (source.get("diaSourceId")
                                         if isinstance(source, dict) else None)


# --------------------------------------------------------------------------- Parquet
def parquet_alerts(data: bytes) -> list[RawAlert]:
    """Every alert of a Parquet rendering (``data``: the file's bytes), each as the
    official alert of its ``lsst_schema_version`` column (default lsst.v10_0), in row
    order; a row repeating an earlier row's ``diaSourceId`` is dropped. Raises
    :class:`DecodeError` naming the row at fault."""
    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DecodeError(f"not a readable Parquet file ({type(exc).__name__}: "
                          f"{str(exc)[:200]})") from None
    if "diaSource" not in table.column_names:
        raise DecodeError(f"Parquet file has no diaSource column (columns: "
                          f"{', '.join(table.column_names[:10])}): not a Rubin alert rendering")
    out, seen, offset = [], set(), 0
    for batch in table.to_batches():
        try:
            rows = batch.to_pylist()
        except (pa.ArrowException, ValueError, OverflowError) as exc:
            raise DecodeError(f"rows {offset}-{offset + batch.num_rows - 1} cannot be read "
                              f"({type(exc).__name__}: {str(exc)[:200]})") from None
        for j, row in enumerate(rows):
            where = f"row {offset + j}"
            try:
                schema_id = schema_id_of(row.get("lsst_schema_version"))
            except DecodeError as exc:
                raise DecodeError(f"{where}: {exc.reason}") from None
            raw = official_alert(restore_ids(row), schema_id, where)
            key = _source_id(raw.record)
            if key in seen:
                continue
            seen.add(key)
            out.append(raw)
        offset += batch.num_rows
    return out


# --------------------------------------------------------------------------- tar of datums
def _members(data: bytes) -> dict[str, bytes]:
    """Regular members of a (possibly gzip'd) tar, by name."""
    out = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
            for member in tar:
                if member.isfile():
                    stream = tar.extractfile(member)
                    if stream is None:
                        raise DecodeError(f"member {member.name} cannot be read")
                    out[member.name] = stream.read()
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise DecodeError(f"not a readable tar archive ({type(exc).__name__}: {exc})") from None
    return out


def official_twin(schema_text: bytes) -> tuple[int, avro.WriterSchema]:
    """(schema id, official writer schema) of a shipped Rubin writer schema: the official
    schema of the same version, checked to have the same parsing canonical form (the two
    read and write every datum alike). :class:`DecodeError` if there is none."""
    shipped = avro.writer_schema(schema_text)
    if shipped.version is None:
        raise DecodeError(f"the writer schema is {shipped.name!r}, not a Rubin alert schema "
                          f"(lsst.vM_m)")
    schema_id = schema_id_of(shipped.version)
    official = _official_entry(schema_id)
    if (to_parsing_canonical_form(json.loads(shipped.text))
            != to_parsing_canonical_form(json.loads(official.text))):
        raise DecodeError(f"the writer schema ({shipped.name}) differs from the official "
                          f"{shipped.version} schema of lsst-alert-packet")
    return schema_id, official


def tar_alerts(data: bytes) -> list[RawAlert]:
    """Every datum of a tar of Kafka message values (``data``: the archive's bytes),
    decoded with the archive's ``schema.json`` and framed with the official schema id of
    that version; members in name order (``00_<offset>.avro``: offset order). Raises
    :class:`DecodeError` naming the member at fault."""
    members = _members(data)
    schema_names = [n for n in members if n.rsplit("/", 1)[-1] == TAR_SCHEMA_NAME]
    if len(schema_names) != 1:
        raise DecodeError(f"tar archive must hold one {TAR_SCHEMA_NAME} (the writer schema), "
                          f"found {len(schema_names)}")
    try:
        schema_id, official = official_twin(members[schema_names[0]])
    except DecodeError as exc:
        raise DecodeError(f"member {schema_names[0]}: {exc.reason}") from None
    shipped = avro.writer_schema(members[schema_names[0]])
    datums = sorted(n for n in members if n.endswith(TAR_DATUM_SUFFIX))
    if not datums:
        raise DecodeError(f"tar archive holds no {TAR_DATUM_SUFFIX} datums")
    out = []
    for name in datums:
        datum = members[name]
        try:
            record, end = avro.read_record(shipped, datum, 0, f"datum {name}")
        except DecodeError as exc:
            raise DecodeError(f"member {name}: {exc.reason}") from None
        except (ValueError, UnicodeDecodeError, KeyError, TypeError) as exc:
            raise DecodeError(f"member {name}: corrupt datum ({type(exc).__name__}: "
                              f"{exc})") from None
        if end != len(datum):
            raise DecodeError(f"member {name}: {len(datum) - end} bytes left after the "
                              f"{shipped.name} record")
        out.append(RawAlert(record, official.parsed, official.version or shipped.name,
                            "confluent", "null", schema_id))
    return out


# --------------------------------------------------------------------------- dispatch
def rendering_kind(name: str, data: bytes) -> str | None:
    """``"Parquet"`` or ``"tar"`` for a file (``name``, ``data``: its bytes) holding a
    rendering of Rubin alerts, judged from its magic bytes (or its name, when they are
    damaged); ``None`` for anything else (alert packets)."""
    lower = name.lower()
    if data[:4] == PARQUET_MAGIC or lower.endswith(".parquet"):
        return "Parquet"
    if data[:2] == GZIP_MAGIC or lower.endswith((".tar.gz", ".tgz", ".tar")):
        return "tar"
    return None


def read_rendering(kind: str, data: bytes) -> list[RawAlert]:
    """The alerts of a rendering of ``kind`` (from :func:`rendering_kind`)."""
    if kind == "Parquet":
        return parquet_alerts(data)
    if kind == "tar":
        return tar_alerts(data)
    raise ValueError(f"unknown rendering {kind!r}")
