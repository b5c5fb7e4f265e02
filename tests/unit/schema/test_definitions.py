"""Every computed column has one written definition in the column spec (what, units,
points, exactly when it is NULL; how it differs from Lasair where it does), and the
schema reference users read is rendered from it."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from solas.cli import main
from solas.features import compute_feature_columns
from solas.features.solar_system import aggregate_columns, solar_system_rows
from solas.schema.columns import MARIADB_COMMENT_MAX, Column, mariadb_create
from solas.schema.reference import reference_tables, schema_markdown
from solas.schema.tables import mariadb_tables
from solas.settings import get_settings
from solas.surveys import DecodeError, iter_alert_paths, normalise, read_alert_file

DOCS = Path(__file__).resolve().parents[3] / "docs"
STORE_SET = {"tns_name", "timestamp"}
"""``objects`` columns filled outside the feature code (sky context, the store)."""


def _alerts(survey: str, folder: str):
    out = []
    root = get_settings().data_dir / "alerts" / survey / folder
    for path in sorted(iter_alert_paths([root])):
        for raw in read_alert_file(path):
            try:
                out.append(normalise(raw, survey))
            except DecodeError:
                continue
    return out


def _spec(survey: str, name: str):
    return next(t for t in mariadb_tables(survey) if t.name == name)


def _assert_defined(col: Column) -> None:
    assert col.doc and col.null_when, f"{col.name} has no definition"
    assert col.definition.startswith(col.doc.rstrip("."))
    assert ("NULL when" in col.definition) != (col.null_when == "never"), col.name


@pytest.mark.parametrize("survey, folder", [("ztf", "kowalski"), ("lsst", "real-v10")])
def test_every_computed_objects_column_has_a_definition(survey, folder):
    alerts = [a for a in _alerts(survey, folder) if not a.is_solar_system]
    computed = set(compute_feature_columns(alerts, survey, fits=False)) | STORE_SET
    spec = _spec(survey, "objects")
    assert computed <= set(spec.column_names)
    for name in sorted(computed):
        _assert_defined(spec.column(name))


def test_every_computed_solar_system_column_has_a_definition():
    alerts = [a for a in _alerts("lsst", "real-v10") + _alerts("lsst", "ampel-v9")
              if a.ss_object_id is not None]
    assert alerts, "no solar-system alert among the samples"
    rows = solar_system_rows(alerts, dt.datetime(2026, 1, 1))
    spec = _spec("lsst", "ss_objects")
    orbit = {c.name for c in spec.columns if not c.doc}  # native orbit fields, as sent
    computed = ({k for row in rows.objects for k in row} - orbit - {"ssObjectId", "designation"}
                | set(aggregate_columns()))
    assert {"nDiaSources", "g_psfFlux", "phaseAngle", "hpx16"} <= computed
    for name in sorted(computed):
        _assert_defined(spec.column(name))


def test_a_column_without_a_definition_is_caught():
    with pytest.raises(AssertionError, match="no definition"):
        _assert_defined(Column("newfeature", "double", "something, mag"))


def test_deliberate_differences_from_lasair_say_how_to_get_lasairs_value():
    ztf = _spec("ztf", "objects")
    assert "COS(RADIANS(decmean))" in ztf.column("rastd").lasair
    assert "cos" in ztf.column("rastd").doc
    for name in ("sgmag1", "srmag1", "sgscore1", "distpsnr1"):
        col = ztf.column(name)
        assert "-999" in col.null_when and f"COALESCE({name}, -999)" in col.lasair
    for name in ("ncandgp", "ncandgp_7", "ncandgp_14"):
        assert f"NULLIF({name}, 0)" in ztf.column(name).lasair
    assert "SOLAS_FEATURES_MIN_RATE_INTERVAL" in ztf.column("dmdt_r").null_when
    assert "fewer than two" in ztf.column("decstd").null_when


@pytest.mark.parametrize("survey", ["ztf", "lsst"])
def test_definitions_are_the_mariadb_column_comments(survey):
    for spec in mariadb_tables(survey):
        ddl = mariadb_create(spec)
        for col in spec.columns:
            if col.null_when or col.lasair:
                assert len(col.definition) <= MARIADB_COMMENT_MAX, col.name
                assert "COMMENT '" + col.definition.replace("'", "''") + "'" in ddl


def test_a_definition_too_long_for_mariadb_is_refused():
    col = Column("x", "double", "y" * 1100, null_when="never")
    with pytest.raises(ValueError, match="MariaDB keeps 1024"):
        mariadb_create(_spec("ztf", "objects")._replace(columns=(col,), primary_key=("x",)))


@pytest.mark.parametrize("survey", ["ztf", "lsst"])
def test_the_reference_shows_every_definition(survey):
    text = schema_markdown(survey)
    for table in reference_tables(survey):
        assert f"## {table['name']}" in text
        for col in table["columns"]:
            if col["definition"]:
                assert f"- `{col['name']}` {col['type']}: {col['definition']}" in text


@pytest.mark.parametrize("survey", ["ztf", "lsst"])
def test_the_docs_are_generated_from_the_spec(survey, capsys):
    assert main(["db", "schema", "--survey", survey]) == 0
    printed = capsys.readouterr().out
    assert printed == schema_markdown(survey)
    on_disk = (DOCS / f"schema-{survey}.md").read_text()
    assert on_disk == printed, (f"docs/schema-{survey}.md is stale: run "
                                f"`solas db schema --survey {survey} > docs/schema-{survey}.md`")
