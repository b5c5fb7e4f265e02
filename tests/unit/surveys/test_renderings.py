"""Broker renderings of real Rubin alerts (Parquet, tar of message values) come back as
the official packets Rubin streams: checked against an independent read of each file."""
from __future__ import annotations

import io
import math
import tarfile
from pathlib import Path

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from lsst.alert.packet import get_schema_root

from solas.replay import read_pool
from solas.surveys import (
    DecodeError,
    decode_packet,
    encode_packet,
    iter_alert_paths,
    read_alert_file,
)
from solas.surveys.renderings import (
    is_all_null,
    official_alert,
    official_value,
    parquet_alerts,
    restore_ids,
)

PARQUET_FOLDERS = ("fink-transfer-v10", "fink-v10-samples")


def without_logical_types(node):
    if isinstance(node, dict):
        return {k: without_logical_types(v) for k, v in node.items() if k != "logicalType"}
    if isinstance(node, list):
        return [without_logical_types(v) for v in node]
    return node


def official_schema(major: int, minor: int) -> dict:
    """The official writer schema, parsed by fastavro straight from lsst-alert-packet
    (timestamps read as the integers they are, as Solas reads them)."""
    path = Path(str(get_schema_root())) / str(major) / str(minor)
    loaded = fastavro.schema.load_schema(str(path / f"lsst.v{major}_{minor}.alert.avsc"),
                                         _write_hint=False)
    return fastavro.parse_schema(without_logical_types(loaded))


@pytest.fixture(scope="module")
def lsst_dir(alerts_dir) -> Path:
    return alerts_dir / "lsst"


@pytest.fixture(scope="module")
def parquet_files(lsst_dir) -> list[Path]:
    files = [p for folder in PARQUET_FOLDERS for p in iter_alert_paths([lsst_dir / folder])]
    assert len(files) == 43 and all(p.suffix == ".parquet" for p in files)
    return files


@pytest.fixture(scope="module")
def rendered(parquet_files) -> dict:
    """Each Parquet file's alerts as Solas reads them (read once for the module)."""
    return {path: read_alert_file(path, "lsst") for path in parquet_files}


@pytest.fixture(scope="module")
def ampel_tar(lsst_dir) -> Path:
    return lsst_dir / "ampel-v9" / "2025-09-20.partition0.tar.gz"


def same_value(decoded, rendered, avro_type, named: dict, where: str) -> None:
    """``decoded`` (fastavro, official schema) is the Parquet value ``rendered`` for
    this official type: an all-null struct is null, floats equal (NaN = NaN)."""
    while isinstance(avro_type, str) and avro_type in named:
        avro_type = named[avro_type]
    if isinstance(avro_type, list):
        if rendered is None or (isinstance(rendered, dict)
                                and all(v is None for v in rendered.values())):
            assert decoded is None, where
            return
        assert decoded is not None, where
        branch = next(b for b in avro_type if b != "null")
        return same_value(decoded, rendered, branch, named, where)
    kind = avro_type.get("type") if isinstance(avro_type, dict) else avro_type
    if kind == "record":
        assert set(decoded) == {f["name"] for f in avro_type["fields"]}, where
        for f in avro_type["fields"]:
            assert f["name"] in rendered, f"{where}.{f['name']} not in the Parquet row"
            same_value(decoded[f["name"]], rendered[f["name"]], f["type"], named,
                       f"{where}.{f['name']}")
    elif kind == "array":
        assert len(decoded) == len(rendered), where
        for i, (d, r) in enumerate(zip(decoded, rendered)):
            same_value(d, r, avro_type["items"], named, f"{where}[{i}]")
    elif kind in ("float", "double"):
        assert isinstance(decoded, float), where
        assert decoded == rendered or (math.isnan(decoded) and math.isnan(rendered)), where
    elif isinstance(kind, (dict, list)):
        same_value(decoded, rendered, kind, named, where)
    elif kind in ("int", "long") and isinstance(rendered, float):  # one file's doubles
        assert type(decoded) is int and float(decoded) == rendered, where
    else:
        assert decoded == rendered and type(decoded) is type(rendered), where


def test_every_parquet_row_is_an_official_v10_alert_with_the_rows_values(parquet_files,
                                                                        rendered):
    schema = official_schema(10, 0)
    named = schema["__named_schemas"]
    rows = 0
    for path in parquet_files:
        table_rows = pq.read_table(path).to_pylist()  # the independent read
        raws = rendered[path]
        by_id = {raw.record["diaSourceId"]: raw for raw in raws}
        assert len(by_id) == len(raws) == len({r["diaSourceId"] for r in table_rows})
        for row in table_rows:
            raw = by_id[row["diaSourceId"]]
            assert (raw.framing, raw.schema_id, raw.schema_version) == (
                "confluent", 1000, "lsst.v10_0")
            frame = encode_packet(raw)
            assert frame[:5] == b"\x00\x00\x00\x03\xe8"  # magic 0, schema id 1000
            body = io.BytesIO(frame[5:])
            decoded = fastavro.schemaless_reader(body, schema, None)
            assert body.tell() == len(frame) - 5
            same_value(decoded, row, schema, named, f"{path.name}:{row['diaSourceId']}")
            assert decode_packet(frame, "lsst").record.keys() == decoded.keys()
            rows += 1
    assert rows == 107 + 25 + 27


def test_structs_of_nulls_become_null_and_broker_columns_go(parquet_files, rendered):
    structs_of_nulls = {"diaObject": 0, "ssSource": 0, "mpc_orbits": 0}
    for path in parquet_files:
        table_rows = {r["diaSourceId"]: r for r in pq.read_table(path).to_pylist()}
        for raw in rendered[path]:
            row = table_rows[raw.record["diaSourceId"]]
            assert "brokerIngestMjd" in row and "brokerIngestMjd" not in raw.record
            assert "lsst_schema_version" not in raw.record
            for name in structs_of_nulls:
                assert (raw.record[name] is None) == (row[name] is None
                                                      or is_all_null(row[name]))
                structs_of_nulls[name] += is_all_null(row[name])
            assert isinstance(raw.record["cutoutScience"], bytes)
            assert raw.record["cutoutScience"] == row["cutoutScience"]
    assert 0 < structs_of_nulls["diaObject"] < structs_of_nulls["ssSource"]
    assert structs_of_nulls["mpc_orbits"] > 0


def test_ids_written_as_doubles_are_taken_back_exact_from_the_diasource(lsst_dir):
    path = lsst_dir / "fink-v10-samples" / "fink-science-hostless.parquet"
    rows = {r["diaSourceId"]: r for r in pq.read_table(path).to_pylist()}
    lossy = 0
    for raw in read_alert_file(path, "lsst"):
        rendered, source = rows[raw.record["diaSourceId"]]["diaObject"], raw.record["diaSource"]
        if raw.record["diaObject"] is not None:
            assert isinstance(rendered["diaObjectId"], float)
            assert raw.record["diaObject"]["diaObjectId"] == source["diaObjectId"]
            lossy += int(rendered["diaObjectId"]) != source["diaObjectId"]
    assert lossy > 0  # the double alone would have given wrong object ids
    row = dict(next(iter(rows.values())))
    row["diaSource"] = {**row["diaSource"], "diaObjectId": 12345}  # no exact copy
    with pytest.raises(DecodeError, match=r"row 0: diaObject\.diaObjectId = .* is a double "
                                          r"beyond 2\*\*53 .* the value is lost"):
        official_alert(restore_ids(row), 1000, "row 0")


def test_alerts_in_two_files_are_cloned_once(lsst_dir):
    folder = lsst_dir / "fink-v10-samples"
    per_file = [len(read_alert_file(p, "lsst")) for p in iter_alert_paths([folder])]
    assert sorted(per_file) == [25, 27]
    counts: dict = {}
    pool = read_pool([folder], "lsst", counts)
    ids = [raw.record["diaSourceId"] for raw in pool.alerts]
    assert len(ids) == len(set(ids)) == 47 and counts["duplicate_alerts"] == 5


def test_ampel_datums_are_the_official_v9_packets_byte_for_byte(ampel_tar, same_records):
    raws = read_alert_file(ampel_tar, "lsst")
    with tarfile.open(ampel_tar) as tar:
        datums = {m.name: tar.extractfile(m).read() for m in tar if m.name.endswith(".avro")}
    assert len(raws) == len(datums) == 10
    schema = official_schema(9, 0)
    for raw, name in zip(raws, sorted(datums)):
        assert (raw.framing, raw.schema_id, raw.schema_version) == ("confluent", 900,
                                                                   "lsst.v9_0")
        frame = encode_packet(raw)
        assert frame[:5] == b"\x00\x00\x00\x03\x84" and frame[5:] == datums[name]
        assert same_records(fastavro.schemaless_reader(io.BytesIO(datums[name]), schema, None),
                            raw.record)
    assert sum(raw.record["diaObject"] is None for raw in raws) == 9  # solar-system alerts


def test_folders_yield_the_renderings_but_not_their_schemas(lsst_dir):
    names = {p.name for p in iter_alert_paths([lsst_dir])}
    assert "2025-09-20.partition0.tar.gz" in names and "fink-science-hostless.parquet" in names
    assert not any(name.endswith(".avsc") for name in names)


def test_a_rendering_is_refused_by_a_ztf_deployment(parquet_files, ampel_tar):
    for path in (parquet_files[0], ampel_tar):
        with pytest.raises(DecodeError, match=f"{path.name}: .*lsst alert.*ingests ztf"):
            read_alert_file(path, "ztf")


def test_a_corrupt_parquet_file_is_a_decode_error_naming_it(parquet_files, tmp_path):
    data = parquet_files[0].read_bytes()
    for name, broken in (("truncated.parquet", data[:len(data) // 2]),
                         ("scrambled.parquet", data[:4] + bytes(4000) + data[4004:]),
                         ("empty-ish.parquet", b"PAR1")):
        path = tmp_path / name
        path.write_bytes(broken)
        with pytest.raises(DecodeError, match=f"{path}: "):
            read_alert_file(path, "lsst")


def test_a_parquet_row_that_does_not_fit_names_the_row_and_field(lsst_dir, tmp_path):
    table = pq.read_table(lsst_dir / "fink-v10-samples" / "fink-science-hostless.parquet")
    assert table.schema.field("diaSource").type.field("detector").type == pa.int64()
    rows = table.to_pylist()
    rows[1]["diaSource"]["visit"] = None  # a long the official schema requires
    path = tmp_path / "bad-row.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), path)
    with pytest.raises(DecodeError, match=rf"{path}: row 1: diaSource\.visit is null"):
        read_alert_file(path, "lsst")
    rows[1]["diaSource"]["visit"] = 1
    rows[1]["diaSource"]["detector"] = 2**40  # an Avro int
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), path)
    with pytest.raises(DecodeError, match=r"row 1: diaSource\.detector = 1099511627776 does "
                                          r"not fit an Avro int"):
        read_alert_file(path, "lsst")


def test_a_parquet_file_of_something_else_is_refused(tmp_path):
    path = tmp_path / "other.parquet"
    pq.write_table(pa.table({"x": [1, 2]}), path)
    with pytest.raises(DecodeError, match=f"{path}: .*no diaSource column"):
        read_alert_file(path, "lsst")


def rewrite_tar(source: Path, target: Path, change) -> Path:
    """A copy of the tar ``source`` with each member's bytes passed through ``change``."""
    with tarfile.open(source) as old, tarfile.open(target, "w:gz") as new:
        for member in old:
            data = change(member.name, old.extractfile(member).read())
            info = tarfile.TarInfo(member.name)
            info.size = len(data)
            new.addfile(info, io.BytesIO(data))
    return target


def test_a_truncated_datum_is_a_decode_error_naming_file_and_member(ampel_tar, tmp_path):
    path = rewrite_tar(ampel_tar, tmp_path / "truncated.tar.gz", lambda name, data: (
        data[:5000] if name == "00_0000004285.avro" else data))
    with pytest.raises(DecodeError, match=rf"{path}: member 00_0000004285\.avro: truncated"):
        read_alert_file(path, "lsst")
    path = rewrite_tar(ampel_tar, tmp_path / "longer.tar.gz", lambda name, data: (
        data + b"\x00\x00" if name == "00_0000004292.avro" else data))
    with pytest.raises(DecodeError, match=r"member 00_0000004292\.avro: 2 bytes left"):
        read_alert_file(path, "lsst")


def test_a_tar_whose_schema_is_not_the_official_one_is_refused(ampel_tar, tmp_path):
    path = rewrite_tar(ampel_tar, tmp_path / "other-schema.tar.gz", lambda name, data: (
        data.replace(b'{"name":"visit","type":"long"}', b'{"name":"visit","type":"int"}', 1)
        if name == "schema.json" else data))
    with pytest.raises(DecodeError, match=r"member schema\.json: the writer schema .* differs "
                                          r"from the official lsst\.v9_0"):
        read_alert_file(path, "lsst")
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(ampel_tar.read_bytes()[:300_000])
    with pytest.raises(DecodeError, match=f"{cut}: not a readable tar archive"):
        read_alert_file(cut, "lsst")


def test_values_are_made_to_fit_the_official_types():
    schema = fastavro.parse_schema({"type": "record", "name": "t", "fields": [
        {"name": "i", "type": "int"}, {"name": "f", "type": ["null", "float"]},
        {"name": "d", "type": "long", "default": 7},
        {"name": "sub", "type": ["null", {"type": "record", "name": "s", "fields": [
            {"name": "a", "type": ["null", "long"]}, {"name": "b", "type": "string"}]}]},
        {"name": "subs", "type": {"type": "array", "items": "s"}}]})
    row = {"i": 3.0, "f": 1, "extra": "dropped", "sub": {"a": None, "b": None},
           "subs": [{"a": 2, "b": "x", "c": 1}]}
    assert official_value(row, schema) == {"i": 3, "f": 1.0, "d": 7, "sub": None,
                                           "subs": [{"a": 2, "b": "x"}]}
    row["subs"][0]["b"] = None
    with pytest.raises(DecodeError, match=r"row: subs\[0\]\.b is null, but the official "
                                          r"schema requires a string"):
        official_value(row, schema, "row")
    with pytest.raises(DecodeError, match=r"value: i must be an int, not 'x'"):
        official_value({**row, "i": "x"}, schema)


def test_parquet_bytes_that_are_not_parquet_are_refused():
    with pytest.raises(DecodeError, match="not a readable Parquet file"):
        parquet_alerts(b"PAR1 and nothing else")
