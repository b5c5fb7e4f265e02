"""Every template compiles; the schema pages list every column of the spec."""
from __future__ import annotations

import re
from pathlib import Path

import jinja2
import markupsafe
import pytest

import web
from solas.schema.reference import QUERYABLE
from solas.schema.tables import mariadb_tables
from web.pages import schema_tables, setup_filters

TEMPLATES = Path(web.__file__).resolve().parent / "templates"


@pytest.mark.parametrize("name", sorted(p.name for p in TEMPLATES.glob("*.html")))
def test_template_compiles(name):
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    setup_filters(env)
    env.get_template(name)


@pytest.mark.parametrize("name", sorted(p.name for p in TEMPLATES.glob("*.html")))
def test_a_page_title_is_plain_text(name):
    """A title block holds words, never markup (it goes inside <title>)."""
    text = (TEMPLATES / name).read_text()
    for title in re.findall(r"{% block title %}(.*?){% endblock %}", text, re.S):
        assert "<" not in title and "\n" not in title, f"{name}: title block {title[:60]!r}"


def test_error_page_escapes_messages():
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    setup_filters(env)
    html = env.get_template("error.html").render(status=400, reason="Bad",
                                                 message="<script>x</script>", csrf="t",
                                                 survey="ztf")
    assert "<script>x</script>" not in html and "&lt;script&gt;" in html


def test_json_in_pages_cannot_close_the_script_tag():
    env = jinja2.Environment()
    setup_filters(env)
    out = env.from_string("{{ v|tojson_exact }}").render(v={"a": "</script><b>", "id": 2**62})
    assert "</script>" not in out and str(2**62) in out


@pytest.mark.parametrize("survey", ["ztf", "lsst"])
def test_schema_lists_every_column(survey):
    tables = {t["name"]: t for t in schema_tables(survey)}
    solar_system = ["ss_objects", "ss_sources"] if survey == "lsst" else []
    assert list(tables) == [*QUERYABLE, *solar_system]
    for spec in mariadb_tables(survey):
        if spec.name in tables:
            assert [c["name"] for c in tables[spec.name]["columns"]] == spec.column_names
    assert tables["watchlist_hits"]["spec_name"] == "watchlist:<id>"


def test_schema_page_shows_the_definitions():
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    setup_filters(env)
    html = env.get_template("schema.html").render(tables=schema_tables("ztf"), survey="ztf",
                                                   csrf="t")
    rastd = mariadb_tables("ztf")[0].column("rastd")
    for text in (rastd.doc, f"NULL when {rastd.null_when}.", rastd.lasair):
        assert str(markupsafe.escape(text)) in html
    assert "Never NULL." in html  # ncand
