"""Avro framing: object container files, the Confluent wire format, writer-schema cache.

Every packet is read with its *writer* schema: the container header's schema, or the
schema a registry gives for a Confluent schema id. Parsing a schema is far more costly
than decoding one alert, so parsed schemas are cached by the header's schema bytes (or
by schema id, least recently used dropped beyond 256), the container framing is parsed
here rather than by ``fastavro.reader`` (which re-parses the schema for every message),
and records are read by a reader compiled for the schema (:mod:`solas.surveys.compiled`).

Logical types are removed from writer schemas before parsing, so values keep their
Avro primitive type (a ``timestamp-micros`` stays an ``int`` of microseconds): records
stay JSON-serialisable and match :func:`solas.surveys.native_fields` types.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import struct
import zlib
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterator

import fastavro

from solas.surveys import compiled
from solas.surveys.model import DecodeError
from solas.surveys.schema_check import (
    SchemaCheck,
    check_schema,
    essential_message,
    inputs_message,
)

log = logging.getLogger(__name__)

MAGIC = b"Obj\x01"
"""Avro object container file magic."""
SYNC_SIZE = 16
CONFLUENT_MAGIC = 0
"""First byte of a Confluent wire-format frame, followed by a 4-byte big-endian schema id."""

SchemaLookup = Callable[[int], Any]
"""A schema registry: schema id -> schema (a dict, or its JSON text/bytes)."""

_MAX_CACHED_SCHEMAS = 256


# --------------------------------------------------------------------------- varints
def read_long(buf: bytes, pos: int) -> tuple[int, int]:
    """Read one zig-zag varint at ``pos``; return (value, next position)."""
    b = buf[pos]
    pos += 1
    n = b & 0x7F
    shift = 7
    while b & 0x80:
        b = buf[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if shift > 70:
            raise ValueError("varint longer than 10 bytes")
    return (n >> 1) ^ -(n & 1), pos


def write_long(value: int) -> bytes:
    """Zig-zag varint encoding of a 64-bit integer."""
    n = (value << 1) ^ (value >> 63)
    out = bytearray()
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _read_bytes(buf: bytes, pos: int) -> tuple[bytes, int]:
    n, pos = read_long(buf, pos)
    if n < 0 or pos + n > len(buf):
        raise IndexError("length beyond end of data")
    return buf[pos:pos + n], pos + n


# --------------------------------------------------------------------------- codecs
def _snappy():
    import cramjam
    return cramjam.snappy


def _decompress(codec: str, data: bytes) -> bytes:
    """Decompress one container block's data."""
    if codec == "null":
        return data
    if codec == "deflate":
        return zlib.decompress(data, -15)
    if codec == "snappy":
        raw = bytes(_snappy().decompress_raw(data[:-4]))
        if zlib.crc32(raw) & 0xFFFFFFFF != struct.unpack(">I", data[-4:])[0]:
            raise ValueError("snappy block CRC32 mismatch")
        return raw
    if codec == "zstandard":
        import cramjam
        return bytes(cramjam.zstd.decompress(data))
    if codec == "bzip2":
        import bz2
        return bz2.decompress(data)
    if codec == "xz":
        import lzma
        return lzma.decompress(data)
    raise DecodeError(f"unsupported Avro container codec {codec!r}")


def _compress(codec: str, data: bytes) -> bytes:
    """Compress one container block's data (inverse of :func:`_decompress`)."""
    if codec == "null":
        return data
    if codec == "deflate":
        c = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
        return c.compress(data) + c.flush()
    if codec == "snappy":
        return bytes(_snappy().compress_raw(data)) + struct.pack(">I", zlib.crc32(data) & 0xFFFFFFFF)
    if codec == "zstandard":
        import cramjam
        return bytes(cramjam.zstd.compress(data))
    if codec == "bzip2":
        import bz2
        return bz2.compress(data)
    if codec == "xz":
        import lzma
        return lzma.compress(data)
    raise ValueError(f"unsupported Avro container codec {codec!r}")


# --------------------------------------------------------------------------- writer schemas
_LSST_NAME = re.compile(r"lsst\.v(\d+)_(\d+)")


@dataclass(eq=False)
class WriterSchema:
    """A parsed writer schema and what Solas knows about it (one per distinct schema)."""

    parsed: dict
    """fastavro-parsed schema (logical types removed), used to read and write records."""
    text: bytes
    """The schema JSON as the writer stored it (container header bytes or registry text)."""
    name: str
    """Full name of the top-level record (e.g. ``ztf.alert``, ``lsst.v10_0.alert``)."""
    survey: str | None
    """``"ztf"``/``"lsst"`` judged from the top-level fields, ``None`` if neither."""
    version: str | None
    """``lsst.vM_m`` from the record name, else ``None`` (ZTF: see ``schemavsn``)."""
    headers: dict[str, bytes] = field(default_factory=dict)
    """Last container header seen per codec, for byte-identical re-encoding."""
    check: SchemaCheck | None = None
    """Rubin schemas: the fields Solas reads that the schema lacks
    (:mod:`solas.surveys.schema_check`); ``None`` for other surveys."""
    uses: int = 0
    writes: int = 0
    _reader: Callable[[bytes, int], tuple[dict, int]] | None = None
    _writer: Callable[[dict], bytes] | None = None

    def read(self, buf: bytes, pos: int) -> tuple[dict, int]:
        """Decode one record from ``buf`` at ``pos``: returns (record, end position).

        The first record is read by fastavro; from the second on, by a reader compiled
        for this schema (once), so one-off schemas (e.g. corrupt headers) cost
        no compilation.
        """
        reader = self._reader
        if reader is None:
            self.uses += 1
            if self.uses < 2:
                return _fastavro_read(self.parsed, buf, pos)
            reader = self._reader = (compiled.compile_reader(self.parsed)
                                     or partial(_fastavro_read, self.parsed))
        return reader(buf, pos)

    def write(self, record: dict) -> bytes:
        """Schemaless Avro encoding of one record (compiled from the second use on, as
        :meth:`read`; any record the compiled writer refuses goes to fastavro, which
        writes it or raises its own error)."""
        writer = self._writer
        if writer is None:
            self.writes += 1
            if self.writes >= 2:
                writer = self._writer = (compiled.compile_writer(self.parsed)
                                         or partial(_fastavro_write, self.parsed))
            else:
                return _fastavro_write(self.parsed, record)
        try:
            return writer(record)
        except Exception:
            return _fastavro_write(self.parsed, record)


def _fastavro_write(parsed: dict, record: dict) -> bytes:
    fo = io.BytesIO()
    try:
        fastavro.schemaless_writer(fo, parsed, record)
    except (TypeError, ValueError, AttributeError, KeyError, struct.error) as exc:
        raise ValueError(f"record does not fit writer schema {parsed.get('name')!r}: "
                         f"{str(exc)[:300]}") from None
    return fo.getvalue()


_BY_TEXT: dict[bytes, WriterSchema] = {}
_BY_PARSED: dict[int, WriterSchema] = {}


def strip_logical_types(node: Any) -> Any:
    """Copy of a schema JSON object without ``logicalType`` annotations."""
    if isinstance(node, dict):
        return {k: strip_logical_types(v) for k, v in node.items() if k != "logicalType"}
    if isinstance(node, list):
        return [strip_logical_types(v) for v in node]
    return node


def schema_json(schema: dict) -> bytes:
    """JSON text of a (possibly fastavro-parsed) schema, without fastavro's private keys."""
    def clean(node):
        if isinstance(node, dict):
            return {k: clean(v) for k, v in node.items() if not k.startswith("__")}
        if isinstance(node, list):
            return [clean(v) for v in node]
        return node
    return json.dumps(clean(schema), separators=(",", ":")).encode()


def _top_fields(schema: Any) -> list[str]:
    if isinstance(schema, dict) and schema.get("type") == "record":
        return [f.get("name") for f in schema.get("fields", [])]
    return []


def _classify(schema: Any) -> tuple[str, str | None, str | None]:
    """(full name, survey, lsst version) of a schema JSON object."""
    name = ""
    if isinstance(schema, dict):
        name = str(schema.get("name", ""))
        ns = schema.get("namespace")
        if ns and "." not in name:
            name = f"{ns}.{name}"
    fields = set(_top_fields(schema))
    survey = None
    if {"objectId", "candidate"} <= fields:
        survey = "ztf"
    elif "diaSource" in fields:
        survey = "lsst"
    m = _LSST_NAME.search(name)
    version = f"lsst.v{m.group(1)}_{m.group(2)}" if m else None
    return name, survey, version


def _fastavro_read(parsed: dict, buf: bytes, pos: int) -> tuple[dict, int]:
    fo = io.BytesIO(buf)
    fo.seek(pos)
    record = fastavro.schemaless_reader(fo, parsed, None)
    return record, fo.tell()


def writer_schema(text: bytes | str | dict) -> WriterSchema:
    """The cached :class:`WriterSchema` for a schema given as JSON text or a JSON object.

    Raises :class:`DecodeError` if it is not valid JSON or not a valid Avro schema.
    """
    if isinstance(text, dict):
        text = schema_json(text)
    elif isinstance(text, str):
        text = text.encode()
    entry = _BY_TEXT.pop(text, None)
    if entry is not None:
        _BY_TEXT[text] = entry  # most recently used last
        return entry
    try:
        obj = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DecodeError(f"writer schema is not valid JSON ({exc})") from None
    try:
        parsed = fastavro.parse_schema(strip_logical_types(obj))
    except Exception as exc:  # fastavro raises several types for bad schemas
        raise DecodeError(f"writer schema is not a valid Avro schema ({exc})") from None
    name, survey, version = _classify(obj)
    entry = WriterSchema(parsed, text, name, survey, version)
    if survey == "lsst":
        entry.check = _checked(obj, version or name or "without a name")
    if len(_BY_TEXT) >= _MAX_CACHED_SCHEMAS:  # drop the least recently used
        old = _BY_TEXT.pop(next(iter(_BY_TEXT)))
        _BY_PARSED.pop(id(old.parsed), None)
    _BY_TEXT[text] = entry
    _BY_PARSED[id(parsed)] = entry
    return entry


_WARNED: set[str] = set()


def _checked(schema: dict, label: str) -> SchemaCheck:
    """The :class:`SchemaCheck` of a new Rubin writer schema; a schema lacking feature
    inputs is logged once per schema version."""
    check = check_schema(schema, label)
    if check.storable and check.missing_inputs and label not in _WARNED:
        _WARNED.add(label)
        log.warning("%s", inputs_message(check))
    return check


def require_storable(entry: WriterSchema) -> WriterSchema:
    """``entry``, or :class:`DecodeError` naming the essential fields (ids, position,
    time) its Rubin schema lacks."""
    if entry.check is not None and not entry.check.storable:
        raise DecodeError(essential_message(entry.check))
    return entry


def entry_for(parsed: dict) -> WriterSchema:
    """The :class:`WriterSchema` of a parsed schema held by a RawAlert (re-created if evicted)."""
    entry = _BY_PARSED.get(id(parsed))
    if entry is not None and entry.parsed is parsed:
        return entry
    return writer_schema(schema_json(parsed))


def read_record(entry: WriterSchema, buf: bytes, pos: int, what: str) -> tuple[dict, int]:
    """Decode one record of ``entry`` from ``buf[pos:]``; errors become :class:`DecodeError`."""
    try:
        return entry.read(buf, pos)
    except DecodeError:
        raise
    except (EOFError, IndexError, struct.error):
        raise DecodeError(f"truncated {what}: data ends inside a {entry.name or 'record'} "
                          f"record") from None
    except Exception as exc:  # corrupt data: bad union index, bad UTF-8, negative length...
        raise DecodeError(f"corrupt {what}: cannot decode a {entry.name or 'record'} record "
                          f"({type(exc).__name__}: {exc})") from None


# --------------------------------------------------------------------------- containers
@dataclass
class Container:
    """A parsed object container file: its writer schema, codec and record blocks."""

    entry: WriterSchema
    codec: str
    header: bytes
    blocks: list[tuple[int, bytes]]
    """(record count, compressed data) of each block."""

    @property
    def count(self) -> int:
        """Number of records in the container."""
        return sum(n for n, _ in self.blocks)


def _parse_header(buf: bytes) -> tuple[dict[str, bytes], int]:
    """Metadata map and end position (after the sync marker) of a container header."""
    pos = len(MAGIC)
    meta: dict[str, bytes] = {}
    while True:
        count, pos = read_long(buf, pos)
        if count == 0:
            break
        if count < 0:
            count = -count
            _, pos = read_long(buf, pos)
        for _ in range(count):
            key, pos = _read_bytes(buf, pos)
            value, pos = _read_bytes(buf, pos)
            meta[key.decode("utf-8")] = value
    if pos + SYNC_SIZE > len(buf):
        raise IndexError("header ends before its sync marker")
    return meta, pos + SYNC_SIZE


def parse_container(buf: bytes) -> Container:
    """Parse the framing of an Avro object container (does not decode records)."""
    try:
        meta, pos = _parse_header(buf)
    except (IndexError, ValueError, UnicodeDecodeError):
        raise DecodeError("truncated or corrupt Avro container header") from None
    if "avro.schema" not in meta:
        raise DecodeError("Avro container header has no avro.schema")
    codec = meta.get("avro.codec", b"null").decode("utf-8", "replace") or "null"
    entry = require_storable(writer_schema(meta["avro.schema"]))
    header = buf[:pos]
    sync = header[-SYNC_SIZE:]
    blocks: list[tuple[int, bytes]] = []
    end = len(buf)
    while pos < end:
        try:
            count, pos = read_long(buf, pos)
            size, pos = read_long(buf, pos)
        except (IndexError, ValueError):
            raise DecodeError(f"truncated Avro container: block {len(blocks) + 1} header "
                              f"is cut off") from None
        if count < 0 or size < 0:
            raise DecodeError(f"corrupt Avro container: block {len(blocks) + 1} has a "
                              f"negative record count or size")
        if pos + size + SYNC_SIZE > end:
            raise DecodeError(f"truncated Avro container: block {len(blocks) + 1} needs "
                              f"{size + SYNC_SIZE} bytes, {end - pos} left")
        if buf[pos + size:pos + size + SYNC_SIZE] != sync:
            raise DecodeError(f"corrupt Avro container: sync marker mismatch after block "
                              f"{len(blocks) + 1}")
        blocks.append((count, buf[pos:pos + size]))
        pos += size + SYNC_SIZE
    entry.headers[codec] = header
    return Container(entry, codec, header, blocks)


def iter_container_records(container: Container) -> Iterator[dict]:
    """Decode every record of a parsed container."""
    entry = container.entry
    for i, (count, data) in enumerate(container.blocks, start=1):
        try:
            raw = _decompress(container.codec, data)
        except DecodeError:
            raise
        except Exception as exc:
            raise DecodeError(f"corrupt Avro container: cannot {container.codec}-decompress "
                              f"block {i} ({exc})") from None
        pos = 0
        for _ in range(count):
            record, pos = read_record(entry, raw, pos, f"Avro container block {i}")
            yield record
        if pos != len(raw):
            raise DecodeError(f"corrupt Avro container: block {i} has {len(raw) - pos} "
                              f"bytes left after its {count} record(s)")


def encode_container(record: dict, schema: dict, codec: str) -> bytes:
    """One-record container with the writer schema and codec (original header if known)."""
    entry = entry_for(schema)
    header = entry.headers.get(codec)
    if header is None:
        header = (MAGIC + write_long(2)
                  + write_long(len(b"avro.schema")) + b"avro.schema"
                  + write_long(len(entry.text)) + entry.text
                  + write_long(len(b"avro.codec")) + b"avro.codec"
                  + write_long(len(codec)) + codec.encode() + write_long(0)
                  + hashlib.md5(entry.text).digest())
    body = _compress(codec, entry.write(record))
    return b"".join((header, write_long(1), write_long(len(body)), body, header[-SYNC_SIZE:]))


def schemaless(record: dict, parsed: dict) -> bytes:
    """Schemaless Avro encoding of one record with a parsed writer schema."""
    return entry_for(parsed).write(record)


# --------------------------------------------------------------------------- Confluent frames
def confluent_frame(record: dict, parsed: dict, schema_id: int) -> bytes:
    """Confluent wire format: magic 0, 4-byte big-endian schema id, schemaless Avro."""
    return struct.pack(">bI", CONFLUENT_MAGIC, schema_id) + schemaless(record, parsed)


def confluent_schema_id(data: bytes) -> int:
    """Schema id of a Confluent frame (``data[0] == 0`` assumed)."""
    if len(data) < 5:
        raise DecodeError(f"truncated Confluent frame: {len(data)} bytes, the header alone "
                          f"needs 5")
    return struct.unpack_from(">I", data, 1)[0]


# --------------------------------------------------------------------------- registries
_REGISTRY_CACHE: dict[Any, dict[int, WriterSchema]] = {}


def lsst_schema_ids() -> list[int]:
    """Schema ids (major*100 + minor) of every Rubin schema in lsst-alert-packet and in
    the folder of newer schemas (setting ``lsst_schema_dir``)."""
    return sorted(_lsst_schema_files())


_ALERT_AVSC = re.compile(r"lsst\.v(\d+)_(\d+)\.alert\.avsc")


def lsst_schema_paths(extra_dir: str | Path | None = None) -> dict[int, Path]:
    """Rubin alert schema files by schema id: lsst-alert-packet's, then those found
    (at any depth) in ``extra_dir`` for ids the package does not ship."""
    from lsst.alert.packet import get_schema_root
    paths: dict[int, Path] = {}
    for major in get_schema_root().iterdir():
        if not major.name.isdigit():
            continue
        for minor in major.iterdir():
            avsc = minor / f"lsst.v{major.name}_{minor.name}.alert.avsc"
            if minor.name.isdigit() and avsc.is_file():
                paths[int(major.name) * 100 + int(minor.name)] = Path(str(avsc))
    if extra_dir:
        folder = Path(extra_dir)
        if not folder.is_dir():
            raise FileNotFoundError(f"Rubin schema folder {folder} (SOLAS_LSST_SCHEMA_DIR) "
                                    f"does not exist")
        for avsc in sorted(folder.rglob("lsst.v*.alert.avsc")):
            m = _ALERT_AVSC.fullmatch(avsc.name)
            if m:
                paths.setdefault(int(m.group(1)) * 100 + int(m.group(2)), avsc)
    return paths


def _lsst_schema_files() -> dict[int, Path]:
    cache = getattr(_lsst_schema_files, "_cache", None)
    if cache is None:
        from solas.settings import get_settings
        cache = lsst_schema_paths(get_settings().lsst_schema_dir)
        _lsst_schema_files._cache = cache  # type: ignore[attr-defined]
    return cache


def lsst_schema(schema_id: int) -> dict:
    """Rubin alert schema (JSON object, named types expanded) for a Rubin schema id.

    Rubin's convention: ``id = major * 100 + minor`` (1000 = lsst.v10_0, 701 = v7_1).
    Read from the installed lsst-alert-packet package, else from the folder of newer
    schemas (setting ``lsst_schema_dir``). Raises ``KeyError`` if unknown.
    """
    path = _lsst_schema_files().get(schema_id)
    if path is None:
        raise KeyError(schema_id)
    # load_schema resolves the sibling .avsc files the alert schema refers to: the
    # result defines each named type once, where first used
    return json.loads(schema_json(fastavro.schema.load_schema(str(path), _write_hint=False)))


def _default_lookup(survey: str) -> SchemaLookup | None:
    return lsst_schema if survey == "lsst" else None


def registry_schema(schema_id: int, survey: str, registry: SchemaLookup | None) -> WriterSchema:
    """Writer schema for a Confluent schema id: ``registry`` if given, else the survey's
    built-in one (Rubin: lsst-alert-packet). Lookups are cached per registry and id (pass
    the same callable every time). A registry returning ``None`` or raising ``LookupError``
    means "unknown id" (:class:`DecodeError`); other exceptions (e.g. a registry that is
    down) propagate, since the packet itself may be fine."""
    lookup = registry or _default_lookup(survey)
    if lookup is None:
        raise DecodeError(f"Confluent-framed packet with schema id {schema_id}, but no schema "
                          f"registry is configured for {survey}")
    cache = _REGISTRY_CACHE.get(lookup)
    if cache is None:
        if len(_REGISTRY_CACHE) >= 16:  # a new callable per call must not grow this forever
            _REGISTRY_CACHE.pop(next(iter(_REGISTRY_CACHE)))
        cache = _REGISTRY_CACHE[lookup] = {}
    entry = cache.get(schema_id)
    if entry is None:
        try:
            schema = lookup(schema_id)
        except LookupError:
            schema = None
        if schema is None:
            known = (f" (known Rubin ids: {', '.join(map(str, lsst_schema_ids()))})"
                     if lookup is lsst_schema else "")
            raise DecodeError(f"unknown schema id {schema_id}: the {survey} schema registry "
                              f"has no such schema{known}")
        entry = cache[schema_id] = writer_schema(schema)
    return require_storable(entry)
