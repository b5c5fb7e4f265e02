"""Rubin schema changes are data: a field added in a new minor version is stored and
becomes a column; a field removed or renamed gives a clear, specific message, never a
crash.  The changed schemas are built here from the newest official one."""
from __future__ import annotations

import copy
import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import fastavro
import pytest

from solas.features import compute_features
from solas.features import lsst as lsst_features
from solas.ingest import decode_batch
from solas.schema.columns import (
    PACKED_COLUMN,
    mariadb_add_columns,
    packed_row,
    unpacked_row,
)
from solas.schema.tables import lightcurve_tables, mariadb_tables
from solas.settings import get_settings
from solas.stores.cassandra import _with_keys
from solas.surveys import (
    DecodeError,
    avro,
    decode_packet,
    lsst_schema,
    lsst_schema_ids,
    normalise,
    read_alert_file,
)
from solas.surveys.schema_check import (
    ESSENTIAL,
    FEATURE_INPUTS,
    check_schema,
    record_fields,
)

NEWEST = max(i for i in lsst_schema_ids() if i >= 700)
NEW_SOURCE_FIELD, NEW_OBJECT_FIELD = "sourceNoveltyScore", "objectNoveltyScore"


def version_name(schema_id: int) -> str:
    return f"lsst.v{schema_id // 100}_{schema_id % 100}"


def newest_sample() -> dict:
    from lsst.alert.packet import get_schema_root
    folder = Path(str(get_schema_root())) / str(NEWEST // 100) / str(NEWEST % 100)
    return read_alert_file(folder / "sample_data" / "fakeAlert.avro")[0].record


def record_def(schema: dict, name: str) -> dict:
    """The (first) definition of the record called ``name`` in an expanded schema."""
    found = avro_records(schema, {})
    return found[name]


def avro_records(node, out: dict) -> dict:
    if isinstance(node, list):
        for n in node:
            avro_records(n, out)
    elif isinstance(node, dict):
        if node.get("type") == "record":
            out.setdefault(node["name"].rsplit(".", 1)[-1], node)
            for f in node["fields"]:
                avro_records(f["type"], out)
        else:
            avro_records(node.get("type"), out)
            avro_records(node.get("items"), out)
    return out


def derived_schema(schema_id: int) -> dict:
    """The newest official schema renamed as version ``schema_id``."""
    text = json.dumps(lsst_schema(NEWEST)).replace(version_name(NEWEST),
                                                   version_name(schema_id))
    return json.loads(text)


def container(schema: dict, record: dict) -> bytes:
    out = io.BytesIO()
    fastavro.writer(out, fastavro.parse_schema(avro.strip_logical_types(schema)), [record])
    return out.getvalue()


def frame(schema: dict, record: dict, schema_id: int) -> bytes:
    return avro.confluent_frame(record, avro.writer_schema(schema).parsed, schema_id)


# --------------------------------------------------------------------- pure check
def test_every_official_schema_has_what_solas_reads_from_v5_on():
    for schema_id in lsst_schema_ids():
        check = check_schema(lsst_schema(schema_id), version_name(schema_id))
        assert check.storable, schema_id
        if schema_id >= 500:
            assert not check.missing_inputs, (schema_id, check.missing_inputs)
    old = check_schema(lsst_schema(300), "lsst.v3_0")  # no reliability before v5
    assert [r.label for r in old.missing_inputs] == ["diaSource.reliability"]


def test_records_named_after_their_path_are_found_by_the_alert_field():
    """A Spark rendering names each record after its path (``topLevelRecord.diaSource``,
    ``topLevelRecord.prvDiaForcedSources``): nothing it carries is reported missing."""
    path = get_settings().data_dir / "alerts/lsst/real-v10/part-2-918301.avro"
    with path.open("rb") as f:
        schema = fastavro.reader(f).writer_schema
    assert "diaForcedSource" not in record_fields(schema)  # not the official record names
    check = check_schema(schema, "fink rendering")
    assert check.storable and not check.missing_inputs


def test_the_checked_inputs_are_the_spellings_the_features_read():
    spellings = {r.names for r in FEATURE_INPUTS}
    assert {lsst_features.TIME, *lsst_features.FLUXES.values(),
            *lsst_features.DETECTION_NUM.values(), *lsst_features.BAND.values()} <= spellings
    assert {r.names for r in ESSENTIAL if r.records == ("diaSource",)} >= {
        ("diaSourceId",), ("midpointMjdTai", "midPointTai")}


# --------------------------------------------------------------------- removed: essential
def test_a_schema_without_the_detection_time_is_refused_naming_field_and_version():
    schema = derived_schema(1190)
    source = record_def(schema, "diaSource")
    source["fields"] = [f for f in source["fields"] if f["name"] != "midpointMjdTai"]
    record = copy.deepcopy(newest_sample())
    for s in (record["diaSource"], *record["prvDiaSources"]):
        del s["midpointMjdTai"]
    lookup = {1190: schema}.get
    packets = [frame(schema, record, 1190), container(schema, record)]
    for packet in packets:
        with pytest.raises(DecodeError) as err:
            decode_packet(packet, "lsst", registry=lookup)
        message = str(err.value)
        assert "lsst.v11_90" in message and "diaSource.midpointMjdTai" in message
        assert "detection time" in message
    batch = decode_batch(packets, "lsst", lookup)  # the ingest step: dead letters, no crash
    assert not batch.alerts and [d.stage for d in batch.dead] == ["decode", "decode"]
    assert all("diaSource.midpointMjdTai" in d.reason for d in batch.dead)


def test_a_bad_essential_value_names_the_field_and_the_schema_version():
    record = copy.deepcopy(newest_sample())
    record["diaSource"]["ra"] = float("nan")
    raw = decode_packet(frame(lsst_schema(NEWEST), record, NEWEST), "lsst")
    with pytest.raises(DecodeError, match=rf"diaSource\.ra .*\[schema {version_name(NEWEST)}\]"):
        normalise(raw, "lsst")


# --------------------------------------------------------------------- renamed: inputs
def test_a_renamed_flux_is_stored_its_features_are_null_and_warned_once(caplog):
    schema = derived_schema(1191)
    source = record_def(schema, "diaSource")
    for f in source["fields"]:
        if f["name"] == "psfFlux":
            f["name"] = "psfFluxNJy"
    record = copy.deepcopy(newest_sample())
    for s in (record["diaSource"], *record["prvDiaSources"]):
        s["psfFluxNJy"] = s.pop("psfFlux")
    with caplog.at_level(logging.WARNING, logger="solas.surveys.avro"):
        raws = [decode_packet(frame(schema, record, 1191), "lsst", registry={1191: schema}.get),
                decode_packet(container(schema, record), "lsst")]
    warnings = [r.getMessage() for r in caplog.records if "lsst.v11_91" in r.getMessage()]
    assert len(warnings) == 1, warnings  # once per schema version, not per packet
    assert "diaSource.psfFlux" in warnings[0] and "latest_psfFlux" in warnings[0]
    assert "stored" in warnings[0]
    for raw in raws:
        alert = normalise(raw, "lsst")
        (row,) = compute_features([alert], "lsst")
        assert row["nDiaSources"] == 3 and row["lastDiaSourceMjdTai"] is not None  # others
        assert row["latest_psfFlux"] is None and row["r_psfFlux"] is None
        spec = lightcurve_tables("lsst")["detections"]
        point = _with_keys(alert.detections[-1], spec.primary_key, alert.object_id)
        names, values = packed_row(point, tuple(spec.column_names[:-1]))
        back = unpacked_row(spec, dict(zip(names, values)))  # the renamed field is kept
        assert back["psfFluxNJy"] == record["diaSource"]["psfFluxNJy"]


# --------------------------------------------------------------------- added fields
def with_new_fields(schema_id: int) -> tuple[dict, dict]:
    """(schema, record): the newest official schema as ``schema_id`` plus one diaSource
    and one diaObject field, and its sample alert with values for them."""
    schema = derived_schema(schema_id)
    record_def(schema, "diaSource")["fields"].append(
        {"name": NEW_SOURCE_FIELD, "type": ["null", "double"], "default": None})
    record_def(schema, "diaObject")["fields"].append(
        {"name": NEW_OBJECT_FIELD, "type": ["null", "float"], "default": None})
    record = copy.deepcopy(newest_sample())
    for i, s in enumerate((*record["prvDiaSources"], record["diaSource"])):
        s[NEW_SOURCE_FIELD] = 0.25 + i
    record["diaObject"][NEW_OBJECT_FIELD] = 0.5
    return schema, record


def test_a_new_diasource_field_decodes_and_is_stored_in_the_packed_column():
    schema, record = with_new_fields(1192)
    raw = decode_packet(frame(schema, record, 1192), "lsst", registry={1192: schema}.get)
    assert raw.schema_version == "lsst.v11_92"
    alert = normalise(raw, "lsst")
    spec = lightcurve_tables("lsst")["detections"]
    assert NEW_SOURCE_FIELD not in spec.column_names + spec.packed_names  # not in the spec
    for i, point in enumerate(alert.detections):
        row = _with_keys(point, spec.primary_key, alert.object_id)
        names, values = packed_row(row, tuple(spec.column_names[:-1]))
        stored = dict(zip(names, values))
        assert json.loads(stored[PACKED_COLUMN])[NEW_SOURCE_FIELD] == 0.25 + i
        assert unpacked_row(spec, stored)[NEW_SOURCE_FIELD] == 0.25 + i
    assert alert.object[NEW_OBJECT_FIELD] == 0.5


SPEC_PROBE = """
import json, sys
from solas.features import compute_features
from solas.schema.columns import mariadb_add_columns
from solas.schema.tables import lightcurve_tables, mariadb_tables
from solas.surveys import decode_packet, native_fields, normalise
raw = decode_packet(sys.stdin.buffer.read(), "lsst")  # the built-in lookup, no registry
(row,) = compute_features([normalise(raw, "lsst")], "lsst")
objects = next(t for t in mariadb_tables("lsst") if t.name == "objects")
live = set(json.loads(sys.argv[1]))  # the columns of a table made by the official spec
print(json.dumps({"version": raw.schema_version, "row": row[%r],
                  "objects": objects.column_names,
                  "alters": mariadb_add_columns(objects, live),
                  "packed": lightcurve_tables("lsst")["detections"].packed_names,
                  "object_fields": [n for n, _ in native_fields("lsst")["object"]]}))
"""


def test_a_new_schema_in_the_schema_folder_decodes_and_its_fields_join_the_spec(tmp_path):
    schema, record = with_new_fields(1193)
    (tmp_path / "lsst.v11_93.alert.avsc").write_text(json.dumps(schema))
    env = {**os.environ, "SOLAS_LSST_SCHEMA_DIR": str(tmp_path), "SOLAS_SURVEY": "lsst"}
    live = next(t for t in mariadb_tables("lsst") if t.name == "objects")
    done = subprocess.run([sys.executable, "-c", SPEC_PROBE % NEW_OBJECT_FIELD,
                           json.dumps(live.column_names)], env=env,
                          input=frame(schema, record, 1193), capture_output=True, check=False)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    found = json.loads(done.stdout)
    assert found["version"] == "lsst.v11_93" and found["row"] == 0.5
    assert NEW_OBJECT_FIELD in found["object_fields"] and NEW_OBJECT_FIELD in found["objects"]
    assert NEW_SOURCE_FIELD in found["packed"]
    # what `solas db init` runs on a live objects table made from the official spec
    assert found["alters"] == [f"ALTER TABLE `objects` ADD COLUMN `{NEW_OBJECT_FIELD}` FLOAT"]
    assert mariadb_add_columns(live, set(live.column_names)) == []  # this process: official


def test_a_missing_schema_folder_is_an_error_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="SOLAS_LSST_SCHEMA_DIR"):
        avro.lsst_schema_paths(tmp_path / "nowhere")
    assert avro.lsst_schema_paths(None) == avro.lsst_schema_paths("")
