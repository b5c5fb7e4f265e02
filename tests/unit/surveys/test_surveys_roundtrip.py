"""encode_packet(decode_packet(x)) round trips for each framing; Confluent frames for every
official Rubin schema; the schema-compiled reader agrees with fastavro."""
from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import fastavro
import pytest

from solas.surveys import (avro, decode_packet, encode_packet, iter_alert_paths, lsst_schema,
                           lsst_schema_ids, normalise, read_alert_file)
from solas.surveys.compiled import compile_reader, compile_writer


def single_record_avro(alerts_dir: Path) -> list[Path]:
    out = []
    for p in iter_alert_paths([alerts_dir]):
        if p.suffix == ".avro":
            with p.open("rb") as fo:
                if len(list(fastavro.reader(fo))) == 1:
                    out.append(p)
    return out


def test_container_round_trip(alerts_dir: Path, same_records) -> None:
    paths = single_record_avro(alerts_dir)
    assert len(paths) >= 220
    for path in paths:
        data = path.read_bytes()
        survey = path.relative_to(alerts_dir).parts[0]
        raw = decode_packet(data, survey)
        assert raw.framing == "container" and raw.schema_id is None
        again = encode_packet(raw)
        back = decode_packet(again, survey)
        assert same_records(back.record, raw.record), path
        assert (back.codec, back.schema_version) == (raw.codec, raw.schema_version)
        # same header (schema text, sync marker), same Avro body and, for the samples,
        # the same snappy/deflate output: byte-identical
        assert again == data, path
    assert {decode_packet(p.read_bytes(), p.relative_to(alerts_dir).parts[0]).codec
            for p in paths} == {"null", "snappy"}


def test_multi_record_container_round_trip(alerts_dir: Path, same_records) -> None:
    raws = read_alert_file(alerts_dir / "lsst/real-v10/part-2-918301.avro")
    assert len(raws) == 7
    for raw in raws:
        back = decode_packet(encode_packet(raw), "lsst")
        assert same_records(back.record, raw.record)
        assert back.schema_version == "lsst.v10_0"


@pytest.mark.parametrize("schema_id", lsst_schema_ids())
def test_confluent_frame_every_rubin_schema(schema_id: int, lsst_sample_dirs, same_records) -> None:
    folder = lsst_sample_dirs[schema_id]
    major, minor = divmod(schema_id, 100)
    # built independently: the package's own Schema + fastavro
    from lsst.alert.packet import Schema
    schema = Schema.from_file(str(folder / f"lsst.v{major}_{minor}.alert.avsc"))
    with (folder / "sample_data" / "fakeAlert.avro").open("rb") as fo:
        record = next(iter(fastavro.reader(fo)))
    frame = struct.pack(">bI", 0, schema.get_schema_id()) + schema.serialize(record)
    assert schema.get_schema_id() == schema_id

    raw = decode_packet(frame, "lsst")
    assert (raw.framing, raw.schema_id, raw.codec) == ("confluent", schema_id, "null")
    assert raw.schema_version == f"lsst.v{major}_{minor}"
    assert encode_packet(raw) == frame  # byte-identical
    expected = fastavro.schemaless_reader(io.BytesIO(frame[5:]), avro.writer_schema(
        lsst_schema(schema_id)).parsed)
    assert same_records(raw.record, expected)
    alert = normalise(raw, "lsst")
    assert alert.source_id == record["diaSource"]["diaSourceId"]
    assert alert.object_id == record["diaObject"]["diaObjectId"]
    assert len(alert.detections) == len(record["prvDiaSources"] or []) + 1


def test_confluent_timestamps_stay_integers(lsst_sample_dirs) -> None:
    """Logical types are not applied: a v8 timestamp-micros stays an int (JSON-safe)."""
    folder = lsst_sample_dirs[800]
    record = read_alert_file(folder / "sample_data" / "fakeAlert.avro")[0].record
    schema = avro.writer_schema(lsst_schema(800))
    frame = avro.confluent_frame(record, schema.parsed, 800)
    raw = decode_packet(frame, "lsst")
    assert isinstance(raw.record["diaSource"]["time_processed"], int)
    json.dumps(normalise(raw, "lsst").detections)


def test_pluggable_registry_and_cache(alerts_dir: Path) -> None:
    """A Confluent registry callable (id -> schema) serves ZTF frames; looked up once."""
    path = next(iter_alert_paths([alerts_dir / "ztf/kowalski/20231012"]))
    with path.open("rb") as fo:
        reader = fastavro.reader(fo)
        schema_text = reader.metadata["avro.schema"]
        record = next(reader)
    calls = []

    def registry(schema_id: int):
        calls.append(schema_id)
        if schema_id != 4012:
            raise KeyError(schema_id)
        return schema_text

    frame = avro.confluent_frame(record, avro.writer_schema(schema_text).parsed, 4012)
    for _ in range(3):
        raw = decode_packet(frame, "ztf", registry=registry)
        assert raw.schema_id == 4012 and raw.schema_version == "ztf 4.01"
        assert encode_packet(raw) == frame
    assert calls == [4012]
    assert normalise(raw, "ztf").object_id == record["objectId"]


def test_json_round_trip(alerts_dir: Path) -> None:
    for path in iter_alert_paths([alerts_dir / "lsst/lasair-json"]):
        if path.suffix != ".json":
            continue
        data = path.read_bytes()
        raw = decode_packet(data, "lsst")
        assert (raw.framing, raw.schema, raw.schema_version) == ("json", None, "json")
        again = encode_packet(raw)
        assert json.loads(again) == json.loads(data)
        assert decode_packet(again, "lsst").record == raw.record


def test_json_big_ids_exact(alerts_dir: Path) -> None:
    raw = read_alert_file(alerts_dir / "lsst/lasair-json/dp02/1998903343203755338.json")[0]
    alert = normalise(raw, "lsst")
    assert alert.object_id == 1998903343203755338
    assert json.loads(encode_packet(raw))["DiaObject"]["diaObjectId"] == 1998903343203755338


def test_compiled_reader_matches_fastavro(alerts_dir: Path, lsst_sample_dirs,
                                          same_records) -> None:
    """The schema-compiled reader returns exactly fastavro's records, for every sample."""
    paths = [p for p in iter_alert_paths([alerts_dir]) if p.suffix == ".avro"]
    paths += [d / "sample_data" / "fakeAlert.avro" for d in lsst_sample_dirs.values()]
    n, readers = 0, {}
    for path in paths:
        container = avro.parse_container(path.read_bytes())
        parsed = container.entry.parsed
        if id(parsed) not in readers:
            readers[id(parsed)] = compile_reader(parsed)
        reader = readers[id(parsed)]
        assert reader is not None, path
        for count, block in container.blocks:
            data = avro._decompress(container.codec, block)
            fo, pos = io.BytesIO(data), 0
            for _ in range(count):
                ours, pos = reader(data, pos)
                theirs = fastavro.schemaless_reader(fo, parsed)
                assert pos == fo.tell()
                assert same_records(ours, theirs), path
                n += 1
    assert n >= 240  # 228 ZTF + 1 + 7 Rubin sample files, 15 lsst-alert-packet samples


def test_compiled_writer_matches_fastavro(alerts_dir: Path, lsst_sample_dirs) -> None:
    """The schema-compiled writer writes exactly fastavro's bytes, for every sample."""
    paths = [p for p in iter_alert_paths([alerts_dir]) if p.suffix == ".avro"]
    paths += [d / "sample_data" / "fakeAlert.avro" for d in lsst_sample_dirs.values()]
    n, writers = 0, {}
    for path in paths:
        for raw in read_alert_file(path):
            if id(raw.schema) not in writers:
                writers[id(raw.schema)] = compile_writer(raw.schema)
            writer = writers[id(raw.schema)]
            assert writer is not None, path
            fo = io.BytesIO()
            fastavro.schemaless_writer(fo, raw.schema, raw.record)
            assert writer(raw.record) == fo.getvalue(), path
            n += 1
    assert n >= 240


def test_compiled_reader_all_types() -> None:
    schema = fastavro.parse_schema({
        "type": "record", "name": "t.all", "fields": [
            {"name": "n", "type": "null"}, {"name": "b", "type": "boolean"},
            {"name": "i", "type": "int"}, {"name": "l", "type": "long"},
            {"name": "f", "type": "float"}, {"name": "d", "type": "double"},
            {"name": "s", "type": "string"}, {"name": "y", "type": "bytes"},
            {"name": "x", "type": {"type": "fixed", "name": "F4", "size": 4}},
            {"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A", "B", "C"]}},
            {"name": "a", "type": {"type": "array", "items": ["null", "double"]}},
            {"name": "m", "type": {"type": "map", "values": "long"}},
            {"name": "u", "type": ["null", "string", "long", "F4"]},
            {"name": "r1", "type": ["float", "null"]}, {"name": "r2", "type": ["null", "float"]},
            {"name": "r3", "type": ["null", "boolean"]}, {"name": "r4", "type": "double"},
            {"name": "next", "type": ["null", "t.all"]},
        ]})
    values = {"n": None, "b": True, "i": -5, "l": -2**63, "f": 1.5, "d": -2.25, "s": "héllo",
              "y": b"\x00\xff", "x": b"abcd", "e": "C", "a": [None, 1.0, 2.0] * 50,
              "m": {"k": 2**62, "": -1}, "u": 7, "r1": None, "r2": 3.5, "r3": False,
              "r4": 1e300}
    for record in (dict(values, next=None),
                   dict(values, u="s", r1=2.5, r2=None, r3=None,
                        next=dict(values, u=b"wxyz", next=None))):
        fo = io.BytesIO()
        fastavro.schemaless_writer(fo, schema, record)
        data = fo.getvalue()
        ours, end = compile_reader(schema)(data, 0)
        assert end == len(data)
        assert ours == fastavro.schemaless_reader(io.BytesIO(data), schema) == record
    # general unions are left to fastavro by the writer compiler; without them it compiles
    assert compile_writer(schema) is None
    nested = dict(values, u=None, next=dict(values, u=None, next=None))
    without = fastavro.parse_schema({
        "type": "record", "name": "t2.all", "fields": [
            f if f["name"] != "u" else {"name": "u", "type": ["null", "long"]}
            for f in schema["fields"] if f["name"] != "next"] + [
            {"name": "next", "type": ["null", "t2.all"]}, {"name": "d2", "type": "long",
                                                          "default": 7}]})
    for record in (dict(nested, d2=-300), dict(values, u=5, next=None)):
        fo = io.BytesIO()
        fastavro.schemaless_writer(fo, without, record)
        assert compile_writer(without)(record) == fo.getvalue()


def test_writer_falls_back_to_fastavro_errors(alerts_dir: Path) -> None:
    """A record the compiled writer refuses gets fastavro's own verdict."""
    raw = read_alert_file(next(iter_alert_paths([alerts_dir / "ztf/kowalski/20200202"])))[0]
    entry = avro.entry_for(raw.schema)
    for _ in range(3):
        assert entry.write(raw.record) == avro._fastavro_write(raw.schema, raw.record)
    bad = dict(raw.record, candidate=dict(raw.record["candidate"], jd=None))
    with pytest.raises(ValueError, match="record does not fit writer schema 'ztf.alert'.*"
                                         "field candidate"):
        entry.write(bad)
    huge = dict(raw.record, candidate=dict(raw.record["candidate"], magpsf=1e300))
    assert entry.write(huge) == avro._fastavro_write(raw.schema, huge)  # float32 overflow


def test_ztf_as_json(alerts_dir: Path) -> None:
    """A ZTF alert rendered as JSON (bytes as base64) decodes to the same alert."""
    path = next(iter_alert_paths([alerts_dir / "ztf/kowalski/20231012"]))
    raw = read_alert_file(path)[0]
    as_json = encode_packet(raw._replace(framing="json", schema=None, schema_version="json"))
    back = decode_packet(as_json, "ztf")
    a, b = normalise(raw, "ztf"), normalise(back, "ztf")
    assert (b.object_id, b.source_id, b.ra, b.dec, b.mjd) == (a.object_id, a.source_id, a.ra,
                                                              a.dec, a.mjd)
    assert b.schema_version == a.schema_version == "ztf 4.01"
    assert b.cutouts == a.cutouts and len(b.cutouts) == 3
    assert len(b.detections) == len(a.detections) and len(b.forced) == len(a.forced)


def test_to_confluent_projects_broker_records(alerts_dir: Path, same_records) -> None:
    """fink's re-wrapped v10 alerts become official lsst.v10_0 Confluent frames."""
    from solas.surveys import to_confluent
    for raw in read_alert_file(alerts_dir / "lsst/real-v10/part-2-918301.avro"):
        frame = to_confluent(raw)
        assert (frame.schema_id, frame.framing, frame.schema_version) == \
            (1000, "confluent", "lsst.v10_0")
        assert "fink_broker_version" not in frame.record
        data = encode_packet(frame)
        back = decode_packet(data, "lsst")
        assert back.schema_id == 1000 and same_records(back.record, frame.record)
        assert same_records(back.record["prvDiaSources"], raw.record["prvDiaSources"])
        if raw.record["diaObject"]["diaObjectId"]:
            assert normalise(back, "lsst")[:6] == normalise(raw, "lsst")[:6]
        else:
            assert back.record["diaObject"] is None
