"""The column spec renders consistent MariaDB and Cassandra DDL."""
import pytest

from solas.schema.columns import (Column, TableSpec, columns_from_fields, cql_add_columns,
                                  cql_create, cql_insert, mariadb_add_columns, mariadb_create)

SPEC = TableSpec("diaSources", (Column("diaObjectId", "bigint", nullable=False),
                                Column("midpointMjdTai", "double", "MJD TAI"),
                                Column("diaSourceId", "bigint"),
                                Column("band", "varchar(1)", "it's a band")),
                 ("diaObjectId", "midpointMjdTai", "diaSourceId"), "sources",
                 indexes=(("band",),))


def test_mariadb_create_has_types_keys_and_escaped_comments():
    ddl = mariadb_create(SPEC)
    assert ddl.startswith("CREATE TABLE IF NOT EXISTS `diaSources`")
    assert "`diaObjectId` BIGINT NOT NULL" in ddl
    assert "`band` VARCHAR(1) COMMENT 'it''s a band'" in ddl
    assert "PRIMARY KEY (`diaObjectId`, `midpointMjdTai`, `diaSourceId`)" in ddl
    assert "KEY `idx_band` (`band`)" in ddl


def test_cql_create_partitions_by_first_key_and_clusters_by_the_rest():
    ddl = cql_create(SPEC, "ks")
    assert 'CREATE TABLE IF NOT EXISTS ks."diaSources"' in ddl
    assert 'PRIMARY KEY (("diaObjectId"), "midpointMjdTai", "diaSourceId")' in ddl
    assert '"midpointMjdTai" double' in ddl and "band text" in ddl
    assert 'CLUSTERING ORDER BY ("midpointMjdTai" ASC, "diaSourceId" ASC)' in ddl


def test_ttl_table_and_insert_statement():
    spec = TableSpec("cutouts", (Column("candid", "bigint"), Column("stamp", "bytes")),
                     ("candid",), default_ttl_s=3600, compressed=False)
    assert "default_time_to_live = 3600" in cql_create(spec, "ks")
    assert "compression = {'enabled': 'false'}" in cql_create(spec, "ks")
    assert cql_insert(spec, "ks", ttl=True) == (
        "INSERT INTO ks.cutouts (candid, stamp) VALUES (?, ?) USING TTL ?")


def test_upgrades_add_only_missing_columns():
    assert mariadb_add_columns(SPEC, {"diaobjectid", "midpointMjdTai", "diaSourceId"}) == [
        "ALTER TABLE `diaSources` ADD COLUMN `band` VARCHAR(1) COMMENT 'it''s a band'"]
    assert cql_add_columns(SPEC, "ks", {"diaObjectId", "midpointMjdTai"}) == [
        'ALTER TABLE ks."diaSources" ADD "diaSourceId" bigint',
        'ALTER TABLE ks."diaSources" ADD band text']


def test_bad_specs_are_refused():
    with pytest.raises(ValueError, match="key columns"):
        mariadb_create(TableSpec("t", (Column("a", "int"),), ("b",)))
    with pytest.raises(ValueError, match="twice"):
        cql_create(TableSpec("t", (Column("a", "int"), Column("a", "int")), ("a",)), "ks")


def test_avro_fields_become_columns_after_the_keys():
    cols = columns_from_fields([("jd", "double"), ("fid", "int"), ("isdiffpos", "string"),
                                ("cutout", "bytes")], (Column("jd", "double"),))
    assert [(c.name, c.kind) for c in cols] == [("jd", "double"), ("fid", "int"),
                                                ("isdiffpos", "text"), ("cutout", "bytes")]


def test_compaction_is_declared_and_altered_only_when_it_differs():
    from solas.schema.columns import cql_alter_compaction

    spec = TableSpec("cutouts", (Column("candid", "bigint"),), ("candid",), compaction=(
        ("class", "TimeWindowCompactionStrategy"), ("min_threshold", "32")))
    assert ("compaction = {'class': 'TimeWindowCompactionStrategy', 'min_threshold': '32'}"
            in cql_create(spec, "ks"))
    live = {"class": "org.apache.cassandra.db.compaction.TimeWindowCompactionStrategy",
            "min_threshold": "32", "max_threshold": "32"}
    assert cql_alter_compaction(spec, "ks", live) == []
    default = {"class": "org.apache.cassandra.db.compaction.SizeTieredCompactionStrategy",
               "min_threshold": "4", "max_threshold": "32"}
    assert cql_alter_compaction(spec, "ks", default) == [
        "ALTER TABLE ks.cutouts WITH compaction = {'class': 'TimeWindowCompactionStrategy', "
        "'min_threshold': '32'}"]
    assert cql_alter_compaction(spec, "ks", {**live, "min_threshold": "4"})
    assert cql_alter_compaction(spec._replace(compaction=()), "ks", default) == []


PACKING = SPEC._replace(columns=(*SPEC.columns, Column("extra", "json")),
                        packed=(Column("psfFlux", "float"), Column("visit", "bigint")))


def test_packed_columns_go_into_one_json_column_and_come_back_exactly():
    from solas.schema.columns import packed_row, unpacked_row

    row = {"diaObjectId": 2**62 + 1, "midpointMjdTai": 60000.123456789, "diaSourceId": 7,
           "band": None, "psfFlux": 1234.5678, "visit": 2**63 - 1}
    names, values = packed_row(row, ("diaObjectId", "midpointMjdTai", "diaSourceId", "band"))
    assert names == ("diaObjectId", "midpointMjdTai", "diaSourceId", "extra")
    assert values[:3] == [2**62 + 1, 60000.123456789, 7]
    stored = dict(zip(names, values))
    assert unpacked_row(PACKING, {**stored, "band": None}) == row
    assert list(unpacked_row(PACKING, stored)) == ["diaObjectId", "midpointMjdTai",
                                                   "diaSourceId", "band", "psfFlux", "visit"]


def test_a_row_with_no_packed_value_has_no_json_and_nan_is_packed_as_null():
    from solas.schema.columns import packed_row, unpacked_row

    assert packed_row({"a": 1, "p": None}, ("a",)) == (("a",), [1])
    names, values = packed_row({"a": 1, "p": float("nan")}, ("a",))
    assert values[-1] == '{"p":null}'
    assert unpacked_row(PACKING, {"diaObjectId": 1, "extra": None})["psfFlux"] is None


def test_a_value_json_cannot_hold_is_a_type_error():
    from solas.schema.columns import packed_row

    with pytest.raises(TypeError):
        packed_row({"a": 1, "p": object()}, ("a",))


def test_a_value_in_a_column_of_the_older_unpacked_layout_is_read_too():
    from solas.schema.columns import unpacked_row

    old = {"diaObjectId": 1, "midpointMjdTai": 2.0, "diaSourceId": 3, "band": "r",
           "psfFlux": 5.5, "visit": None, "extra": None}
    assert unpacked_row(PACKING, old) == {k: v for k, v in old.items() if k != "extra"}


def test_a_packed_column_declared_twice_or_without_its_json_column_is_refused():
    with pytest.raises(ValueError, match="packed column as a column"):
        cql_create(PACKING._replace(packed=(Column("band", "text"),)), "ks")
    with pytest.raises(ValueError, match="no extra column"):
        cql_create(SPEC._replace(packed=(Column("visit", "bigint"),)), "ks")


@pytest.mark.parametrize("text", ["{not json", "[1, 2]"])
def test_a_packed_column_that_is_not_a_json_object_is_kept_as_text(text):
    from solas.schema.columns import unpacked_row

    point = unpacked_row(PACKING, {"diaObjectId": 1, "band": "g", "extra": text})
    assert point["band"] == "g" and point["extra"] == text and point["psfFlux"] is None
