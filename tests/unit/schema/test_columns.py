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
