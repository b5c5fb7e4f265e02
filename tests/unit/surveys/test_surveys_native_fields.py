"""native_fields covers every field of every supported schema version with its type."""
from __future__ import annotations

import io
import json
from pathlib import Path

import fastavro
import pytest

from solas.surveys import (DecodeError, avro, decode_packet, encode_packet, iter_alert_paths,
                           lsst_schema, lsst_schema_ids, native_fields, normalise,
                           read_alert_file)

PRIMITIVES = {"long", "int", "double", "float", "string", "boolean", "bytes"}


def primitive(avro_type) -> str:
    if isinstance(avro_type, list):
        (avro_type,) = [t for t in avro_type if t != "null"]
    if isinstance(avro_type, dict):
        avro_type = avro_type["type"]
    return avro_type


def named_records(schema, out: dict) -> dict:
    if isinstance(schema, dict):
        if schema.get("type") == "record":
            out.setdefault(schema["name"].rsplit(".", 1)[-1], schema)
            for f in schema["fields"]:
                named_records(f["type"], out)
        else:
            named_records(schema.get("type"), out)
            named_records(schema.get("items"), out)
    elif isinstance(schema, list):
        for s in schema:
            named_records(s, out)
    return out


def assert_covers(columns: list[tuple[str, str]], record: dict) -> None:
    types = dict(columns)
    for f in record["fields"]:
        assert f["name"] in types, f["name"]
        t = primitive(f["type"])
        widened = {("int", "long"), ("float", "double")}
        assert types[f["name"]] == t or (t, types[f["name"]]) in widened, f["name"]


@pytest.mark.parametrize("survey", ["ztf", "lsst"])
def test_shape(survey: str) -> None:
    fields = native_fields(survey)
    assert set(fields) == {"detections", "forced", "nondetections", "object"}
    for kind, columns in fields.items():
        names = [n for n, _ in columns]
        assert len(names) == len(set(names)), kind
        assert {t for _, t in columns} <= PRIMITIVES, kind
    assert native_fields(survey) == fields  # stable


def test_ztf_covers_every_sample_schema(alerts_dir: Path) -> None:
    fields = native_fields("ztf")
    assert fields["object"] == []
    assert ("candid", "long") in fields["detections"] and ("jd", "double") in fields["forced"]
    seen = set()
    paths = [p for p in iter_alert_paths([alerts_dir / "ztf"]) if p.suffix == ".avro"]
    for path in paths:
        with path.open("rb") as fo:
            text = fastavro.reader(fo).metadata["avro.schema"]
        if text in seen:
            continue
        seen.add(text)
        records = named_records(json.loads(text), {})
        assert_covers(fields["detections"], records["candidate"])
        prv = records.get("prv_candidate") or records["prv_candidates"]
        assert_covers(fields["detections"], prv)
        assert_covers(fields["nondetections"], prv)
        if "fp_hist" in records:
            assert_covers(fields["forced"], records["fp_hist"])
    official = alerts_dir / "ztf/ztf-avro-alert/schema"
    for name, kind in (("candidate", "detections"), ("fp_hist", "forced")):
        assert_covers(fields[kind], json.loads((official / f"{name}.avsc").read_text()))
    assert len(seen) >= 5


def test_lsst_covers_v7_to_v11() -> None:
    fields = native_fields("lsst")
    ids = [i for i in lsst_schema_ids() if 700 <= i < 1200]
    assert ids[0] == 700 and ids[-1] >= 1101
    for schema_id in ids:
        records = named_records(lsst_schema(schema_id), {})
        assert_covers(fields["detections"], records["diaSource"])
        assert_covers(fields["forced"], records["diaForcedSource"])
        assert_covers(fields["object"], records["diaObject"])
        if "diaNondetectionLimit" in records:
            assert_covers(fields["nondetections"], records["diaNondetectionLimit"])
    detections = dict(fields["detections"])
    assert detections["diaSourceId"] == "long" and detections["midpointMjdTai"] == "double"
    assert detections["time_processed"] == "long"  # v8 timestamp-micros, as its primitive
    # newest schema's order first
    latest = named_records(lsst_schema(ids[-1]), {})["diaSource"]["fields"]
    assert [n for n, _ in fields["detections"][: len(latest)]] == [f["name"] for f in latest]


def test_normalised_rows_fit_the_columns(alerts_dir: Path) -> None:
    """Rows of a decoded alert only use native columns of their kind."""
    for survey, folder in (("ztf", "ztf/kowalski/20231012"), ("lsst", "lsst/real-v10")):
        fields = {k: {n for n, _ in v} for k, v in native_fields(survey).items()}
        for path in iter_alert_paths([alerts_dir / folder]):
            for raw in read_alert_file(path):
                try:
                    alert = normalise(raw, survey)
                except DecodeError:
                    continue
                for kind in ("detections", "forced", "nondetections"):
                    for row in getattr(alert, kind):
                        assert set(row) <= fields[kind], (kind, set(row) - fields[kind])
                if survey == "lsst":
                    assert set(alert.object) <= fields["object"]


def test_deflate_and_rebuilt_header(alerts_dir: Path) -> None:
    """A deflate container round-trips; a container for a schema with no header seen yet
    gets a rebuilt header (deterministic sync) and still decodes."""
    path = next(iter_alert_paths([alerts_dir / "ztf/pittgoogle-labelled"]))
    with path.open("rb") as fo:
        reader = fastavro.reader(fo)
        schema, record = json.loads(reader.metadata["avro.schema"]), next(reader)
    out = io.BytesIO()
    fastavro.writer(out, schema, [record], codec="deflate")
    raw = decode_packet(out.getvalue(), "ztf")
    assert raw.codec == "deflate"
    again = encode_packet(raw)
    assert decode_packet(again, "ztf").record == raw.record
    fresh = raw._replace(codec="null", schema=avro.writer_schema(raw.schema).parsed)
    entry = avro.entry_for(fresh.schema)
    entry.headers.pop("null", None)
    data = encode_packet(fresh)
    assert data == encode_packet(fresh)
    assert decode_packet(data, "ztf").record == raw.record
