"""Bad packets give DecodeError with a specific reason; never another exception."""
from __future__ import annotations

import io
import json
import math
import struct
from pathlib import Path

import fastavro
import numpy as np
import pytest

from solas.surveys import (DecodeError, avro, decode_packet, encode_packet, iter_alert_paths,
                           lsst_schema, normalise, read_alert_file)


@pytest.fixture(scope="module")
def ztf_packet(alerts_dir: Path) -> bytes:
    return next(iter_alert_paths([alerts_dir / "ztf/kowalski/20231012"])).read_bytes()


@pytest.fixture(scope="module")
def snappy_packet(alerts_dir: Path) -> bytes:
    return next(iter_alert_paths([alerts_dir / "ztf/alerce-snappy"])).read_bytes()


@pytest.fixture(scope="module")
def lsst_frame(alerts_dir: Path) -> bytes:
    raw = read_alert_file(alerts_dir / "lsst/real-v10/part-2-918301.avro")[0]
    record = raw.record
    schema = avro.writer_schema(lsst_schema(1000))
    official = {f["name"] for f in schema.parsed["fields"]}
    record = {k: v for k, v in record.items() if k in official}  # drop fink's extra fields
    record["mpc_orbits"] = record["ssSource"] = None  # fink fills them with all-null records
    return avro.confluent_frame(record, schema.parsed, 1000)


def test_empty(ztf_packet: bytes) -> None:
    with pytest.raises(DecodeError, match=r"empty packet \(0 bytes\)"):
        decode_packet(b"", "ztf")


def test_unrecognised_bytes() -> None:
    with pytest.raises(DecodeError, match="unrecognised framing"):
        decode_packet(b"\x13\x37garbage", "ztf")
    with pytest.raises(DecodeError, match="invalid JSON"):
        decode_packet(b"{not json", "lsst")


def test_truncated_container(ztf_packet: bytes) -> None:
    with pytest.raises(DecodeError, match=r"truncated Avro container: block 1 needs \d+ bytes"):
        decode_packet(ztf_packet[: len(ztf_packet) // 2], "ztf")
    with pytest.raises(DecodeError, match="truncated or corrupt Avro container header"):
        decode_packet(ztf_packet[:100], "ztf")
    with pytest.raises(DecodeError, match="truncated Avro container: block 1 header"):
        header_end = len(avro.parse_container(ztf_packet).header)
        decode_packet(ztf_packet[:header_end + 1] + b"\x80", "ztf")


def test_corrupt_container(ztf_packet: bytes, snappy_packet: bytes) -> None:
    container = avro.parse_container(ztf_packet)
    header, (_, block) = container.header, container.blocks[0]
    sync = header[-16:]
    size = avro.write_long(len(block))
    junk = header + avro.write_long(1) + size + b"\xff" * len(block) + sync
    # 0xff bytes: a varint that never ends (the compiled reader says corrupt, fastavro,
    # which reads a schema's first record, says the data ended)
    with pytest.raises(DecodeError, match=r"(corrupt|truncated) Avro container block 1: "
                                          r"(cannot decode|data ends inside) a ztf.alert record"):
        decode_packet(junk, "ztf")
    bad_sync = header + avro.write_long(1) + size + block + bytes(16)
    with pytest.raises(DecodeError, match="sync marker mismatch after block 1"):
        decode_packet(bad_sync, "ztf")
    extra = header + avro.write_long(1) + avro.write_long(len(block) + 3) + block + b"\0\0\0" + sync
    with pytest.raises(DecodeError, match="3 bytes left after its 1 record"):
        decode_packet(extra, "ztf")
    snappy = avro.parse_container(snappy_packet)
    _, sblock = snappy.blocks[0]
    flipped = sblock[:-1] + bytes([sblock[-1] ^ 1])  # CRC byte
    bad = snappy.header + avro.write_long(1) + avro.write_long(len(sblock)) + flipped + \
        snappy.header[-16:]
    with pytest.raises(DecodeError, match="cannot snappy-decompress block 1.*CRC32"):
        decode_packet(bad, "ztf")


def test_container_record_counts(ztf_packet: bytes, alerts_dir: Path) -> None:
    schema = json.loads(fastavro.reader(io.BytesIO(ztf_packet)).metadata["avro.schema"])
    empty = io.BytesIO()
    fastavro.writer(empty, schema, [])
    with pytest.raises(DecodeError, match="Avro container holds no records"):
        decode_packet(empty.getvalue(), "ztf")
    many = (alerts_dir / "lsst/real-v10/part-2-918301.avro").read_bytes()
    with pytest.raises(DecodeError, match="holds 7 records; a Kafka message must carry exactly one"):
        decode_packet(many, "lsst")


def test_wrong_survey(ztf_packet: bytes, lsst_frame: bytes, alerts_dir: Path) -> None:
    with pytest.raises(DecodeError, match=r"packet is a ztf alert \(writer schema 'ztf.alert'\), "
                                          r"but this deployment ingests lsst"):
        decode_packet(ztf_packet, "lsst")
    with pytest.raises(DecodeError, match="no schema registry is configured for ztf"):
        decode_packet(lsst_frame, "ztf")
    rubin_json = (alerts_dir / "lsst/lasair-json/schema9.0/alert.json").read_bytes()
    with pytest.raises(DecodeError, match="packet is a lsst alert .* ingests ztf"):
        decode_packet(rubin_json, "ztf")
    with pytest.raises(DecodeError, match="is a ztf alert.*ingests lsst"):
        normalise(decode_packet(ztf_packet, "ztf"), "lsst")
    with pytest.raises(DecodeError, match="neither a ZTF nor a Rubin alert"):
        decode_packet(json.dumps({"foo": 1}).encode(), "lsst")
    other = io.BytesIO()
    fastavro.writer(other, {"type": "record", "name": "x.y", "fields": [
        {"name": "a", "type": "int"}]}, [{"a": 1}])
    with pytest.raises(DecodeError, match="writer schema 'x.y' with top-level fields a is "
                                          "neither a ZTF nor a Rubin alert"):
        decode_packet(other.getvalue(), "ztf")


def test_wrong_schema_id(lsst_frame: bytes) -> None:
    assert decode_packet(lsst_frame, "lsst").schema_id == 1000
    unknown = lsst_frame[:1] + struct.pack(">I", 9999) + lsst_frame[5:]
    with pytest.raises(DecodeError, match=r"unknown schema id 9999: .*known Rubin ids: 300"):
        decode_packet(unknown, "lsst")
    wrong = lsst_frame[:1] + struct.pack(">I", 700) + lsst_frame[5:]
    with pytest.raises(DecodeError, match=r"schema id 700"):
        decode_packet(wrong, "lsst")


def test_truncated_confluent(lsst_frame: bytes) -> None:
    with pytest.raises(DecodeError, match=r"truncated Confluent frame: 3 bytes"):
        decode_packet(lsst_frame[:3], "lsst")
    with pytest.raises(DecodeError, match=r"truncated Confluent frame \(schema id 1000\)"):
        decode_packet(lsst_frame[: len(lsst_frame) // 2], "lsst")
    with pytest.raises(DecodeError, match=r"2 bytes left after the lsst.v10_0.alert record"):
        decode_packet(lsst_frame + b"\0\0", "lsst")


def test_every_truncation_and_byte_flip_is_a_decode_error(ztf_packet: bytes,
                                                          lsst_frame: bytes) -> None:
    """Fuzz: any cut is a DecodeError; a flipped byte decodes or is a DecodeError."""
    rng = np.random.default_rng(7)
    for packet, survey in ((ztf_packet, "ztf"), (lsst_frame, "lsst")):
        for cut in rng.integers(1, len(packet) - 1, 150):
            with pytest.raises(DecodeError):
                decode_packet(packet[:cut], survey)
        for pos in rng.integers(0, len(packet), 300):
            data = bytearray(packet)
            data[pos] ^= int(rng.integers(1, 256))
            try:
                raw = decode_packet(bytes(data), survey)
                normalise(raw, survey)
            except DecodeError:
                pass


def _ztf_raw(ztf_packet: bytes, **changes):
    raw = decode_packet(ztf_packet, "ztf")
    cand = dict(raw.record["candidate"], **changes)
    return raw._replace(record=dict(raw.record, candidate=cand))


def test_validation_names_the_field(ztf_packet: bytes, alerts_dir: Path) -> None:
    with pytest.raises(DecodeError, match="candidate.ra is not finite"):
        normalise(_ztf_raw(ztf_packet, ra=math.nan), "ztf")
    with pytest.raises(DecodeError, match="candidate.dec = 91.0 deg is outside"):
        normalise(_ztf_raw(ztf_packet, dec=91.0), "ztf")
    with pytest.raises(DecodeError, match="candidate.jd is missing"):
        normalise(_ztf_raw(ztf_packet, jd=None), "ztf")
    with pytest.raises(DecodeError, match="candidate.candid is missing"):
        normalise(_ztf_raw(ztf_packet, candid=None), "ztf")
    raw = decode_packet(ztf_packet, "ztf")
    with pytest.raises(DecodeError, match="objectId is missing"):
        normalise(raw._replace(record=dict(raw.record, objectId="")), "ztf")
    with pytest.raises(DecodeError, match="differs from candidate.candid"):
        normalise(raw._replace(record=dict(raw.record, candid=1)), "ztf")

    lsst_raw = read_alert_file(alerts_dir / "lsst/lasair-json/schema9.0/alert.json")[0]
    rec = lsst_raw.record
    for field, value, message in (("diaSourceId", None, "diaSource.diaSourceId is missing"),
                                  ("ra", math.inf, "diaSource.ra is not finite"),
                                  ("ra", "12", "diaSource.ra is missing or not a number"),
                                  ("midpointMjdTai", None, "midpointMjdTai is missing")):
        bad = dict(rec, diaSource=dict(rec["diaSource"], **{field: value}))
        with pytest.raises(DecodeError, match=message):
            normalise(lsst_raw._replace(record=bad), "lsst")
    no_object = {k: v for k, v in rec.items() if k != "diaObject"}
    no_object["diaSource"] = dict(rec["diaSource"], diaObjectId=None, ssObjectId=None)
    with pytest.raises(DecodeError, match="diaObjectId is missing"):
        normalise(lsst_raw._replace(record=no_object), "lsst")
    with pytest.raises(DecodeError, match="no diaSource"):
        normalise(lsst_raw._replace(record={"diaObject": rec["diaObject"]}), "lsst")
    with pytest.raises(DecodeError, match="lsst alert is malformed"):
        normalise(lsst_raw._replace(record=dict(rec, prvDiaSources=5)), "lsst")


def test_file_errors_name_the_file(tmp_path: Path, ztf_packet: bytes) -> None:
    bad = tmp_path / "bad.avro"
    bad.write_bytes(ztf_packet[:500])
    with pytest.raises(DecodeError, match=f"{bad}: truncated"):
        read_alert_file(bad)
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"")
    with pytest.raises(DecodeError, match=f"{empty}: empty file"):
        read_alert_file(empty)
    good = tmp_path / "good.avro"
    good.write_bytes(ztf_packet)
    with pytest.raises(DecodeError, match=f"{good}: packet is a ztf alert"):
        read_alert_file(good, "lsst")
    assert len(read_alert_file(good, "ztf")) == 1


def test_encode_rejects_unknown_framing(ztf_packet: bytes) -> None:
    raw = decode_packet(ztf_packet, "ztf")
    with pytest.raises(ValueError, match="unknown framing"):
        encode_packet(raw._replace(framing="carrier-pigeon"))
    with pytest.raises(ValueError, match="survey must be one of"):
        decode_packet(ztf_packet, "decam")
