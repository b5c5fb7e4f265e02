"""Every official Rubin schema from lsst.v7_0 on, as lsst-alert-packet ships it, decodes
and makes storable rows: the sample alerts of each version, Confluent-framed with the
official id (as Rubin streams them), as the container file and as the JSON rendering,
are normalised, cloned, turned into Cassandra light-curve rows and ``objects`` rows, and
every native field of each point and of the diaObject lands in a column or in the
packed JSON column: nothing is dropped."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import orjson
import pytest
from lsst.alert.packet import get_schema_root

from solas.features import compute_features
from solas.features.compute import compute_feature_columns, object_columns
from solas.schema.columns import PACKED_COLUMN, packed_row, unpacked_row
from solas.schema.tables import lightcurve_tables
from solas.stores.cassandra import _with_keys
from solas.surveys import (
    Alert,
    RawAlert,
    clone_record,
    decode_packet,
    encode_packet,
    normalise,
    read_alert_file,
    to_confluent,
)


def official_sample_dirs() -> dict[int, Path]:
    """Sample folders of every schema of lsst-alert-packet from v7.0 on, by schema id
    (major*100 + minor), discovered in the installed package."""
    root = Path(str(get_schema_root()))
    found = {}
    for major in root.iterdir():
        for minor in major.iterdir() if major.name.isdigit() else ():
            sample = minor / "sample_data" / "fakeAlert.avro"
            if minor.name.isdigit() and sample.is_file() and int(major.name) >= 7:
                found[int(major.name) * 100 + int(minor.name)] = sample.parent
    return dict(sorted(found.items()))


SAMPLES = official_sample_dirs()
# Python types the Cassandra driver binds to a typed column of each kind (a JSON
# rendering may write a whole number for a double)
KIND_TYPES = {"bigint": int, "int": int, "double": (int, float), "float": (int, float),
              "text": str, "bool": bool, "bytes": bytes}


def test_every_official_version_from_7_0_to_the_newest_is_tested():
    assert 700 in SAMPLES and 1101 in SAMPLES
    assert set(SAMPLES) >= {700, 701, 702, 703, 704, 800, 900, 1000, 1100, 1101}


def same(a, b) -> bool:
    return a == b or (isinstance(a, float) and isinstance(b, float)
                      and math.isnan(a) and math.isnan(b))


def sample_raws(schema_id: int) -> list[RawAlert]:
    """The version's sample alerts: Confluent frames with the official id, decoded
    with the built-in registry, the container file itself, and the JSON rendering."""
    folder = SAMPLES[schema_id]
    containers = read_alert_file(folder / "fakeAlert.avro")
    assert containers and all(r.framing == "container" for r in containers)
    version = f"lsst.v{schema_id // 100}_{schema_id % 100}"
    assert {r.schema_version for r in containers} == {version}
    framed = []
    for raw in containers:
        frame = encode_packet(to_confluent(raw))
        assert frame[0] == 0 and int.from_bytes(frame[1:5], "big") == schema_id
        decoded = decode_packet(frame, "lsst")
        assert decoded.schema_id == schema_id and decoded.schema_version == version
        assert orjson.dumps(decoded.record) == orjson.dumps(raw.record)
        framed.append(decoded)
    as_json = decode_packet((folder / "alert.json").read_bytes(), "lsst")
    return [*framed, *containers, as_json]


def assert_points_stored_whole(alert: Alert) -> None:
    """Each point's row as the Cassandra store builds it keeps every non-null native
    value: in a typed column of the right type, or in the packed JSON column."""
    tables = lightcurve_tables("lsst")
    for kind in ("detections", "forced", "nondetections"):
        spec = tables[kind]
        columns = tuple(n for n in spec.column_names if n != PACKED_COLUMN)
        kinds = {c.name: c.kind for c in spec.columns}
        for point in getattr(alert, kind):
            row = _with_keys(point, spec.primary_key, alert.object_id)
            assert None not in (row.get(k) for k in spec.primary_key), (kind, point)
            names, values = packed_row(row, columns)
            stored = dict(zip(names, values))
            for name in names:
                if name != PACKED_COLUMN:
                    assert isinstance(stored[name], KIND_TYPES[kinds[name]]), (kind, name)
            back = unpacked_row(spec, stored)
            for name, value in point.items():
                if value is not None:
                    assert name in back and same(back[name], value), (kind, name, value)


def assert_object_row_complete(alert: Alert) -> None:
    """Every non-null diaObject field is an ``objects`` column with a value; the ones
    Solas does not compute keep the diaObject's value."""
    (row,) = compute_features([alert], "lsst")
    assert list(row) == list(object_columns("lsst"))
    assert row["diaObjectId"] == alert.object_id and row["nDiaSources"] == len(
        alert.detections)
    computed = set(compute_feature_columns([alert], "lsst", fits=False))
    for name, value in alert.object.items():
        column = "decl" if name == "dec" else name
        if value is None:
            continue
        assert column in row, name
        if isinstance(value, float) and math.isnan(value):
            assert row[column] is None or column in computed, name
        elif column not in computed:
            assert row[column] == value, name
        else:
            assert row[column] is not None, name


@pytest.mark.parametrize("schema_id", list(SAMPLES))
def test_the_sample_alerts_of_each_version_decode_and_make_storable_rows(schema_id: int):
    stored = 0
    for raw in sample_raws(schema_id):
        alert = normalise(raw, "lsst")  # every sample has a diaObject
        assert not alert.is_solar_system
        assert alert.object_id and alert.source_id and alert.detections
        for part, kept in (("diaSource", alert.detections[-1]), ("diaObject", alert.object)):
            given = {k: v for k, v in (raw.record.get(part) or {}).items() if v is not None}
            assert all(same(kept.get(k), v) for k, v in given.items()), part
        assert_points_stored_whole(alert)
        assert_object_row_complete(alert)
        clone = clone_record(raw, "lsst", 3, np.random.default_rng(schema_id))
        copy = normalise(decode_packet(encode_packet(clone), "lsst"), "lsst")
        assert copy.object_id != alert.object_id and copy.source_id != alert.source_id
        assert len(copy.detections) == len(alert.detections)
        assert_points_stored_whole(copy)
        assert_object_row_complete(copy)
        stored += 1
    assert stored >= 1
