"""The schema reference users read: the queryable tables and every column's definition,
from the column specs (:mod:`solas.schema.tables`) and nowhere else.

The portal's schema page and ``/schema.json`` (:func:`reference_tables`) and the Markdown
reference in ``docs/schema-<survey>.md`` (:func:`schema_markdown`, printed by
``solas db schema``) are both rendered from here, so a definition is written once, in
the spec.
"""
from __future__ import annotations

from typing import Any

from solas.schema.columns import Column
from solas.schema.tables import mariadb_tables

QUERYABLE = ("objects", "sherlock_classifications", "crossmatch_tns", "watchlist_hits",
             "area_hits", "annotations")
"""Tables a filter can name (its tables field), in the order the reference lists them."""
SOLAR_SYSTEM = ("ss_objects", "ss_sources")
"""Rubin solar-system tables, listed after the queryable ones (queried on demand)."""
TABLE_NAMES = {"watchlist_hits": "watchlist:<id>", "area_hits": "watchmap:<id>",
               "annotations": "annotator:<topic>"}
"""How a filter's tables field names a table, where that is not its own name."""


def column_entry(col: Column) -> dict[str, Any]:
    """One column of the reference: name, MariaDB type, ``doc`` (what, units, points),
    ``null_when``, ``lasair`` (empty where not given) and the joined ``definition``."""
    return {"name": col.name, "type": col.mariadb_type(), "doc": col.doc,
            "null_when": col.null_when, "lasair": col.lasair,
            "definition": col.definition}


def reference_tables(survey: str) -> list[dict[str, Any]]:
    """The tables users query in a ``survey`` deployment, with their columns' entries."""
    specs = {spec.name: spec for spec in mariadb_tables(survey)}
    return [{"name": name, "spec_name": TABLE_NAMES.get(name, name),
             "doc": specs[name].doc,
             "columns": [column_entry(c) for c in specs[name].columns]}
            for name in (*QUERYABLE, *SOLAR_SYSTEM) if name in specs]


def schema_markdown(survey: str) -> str:
    """The schema reference of a ``survey`` deployment as Markdown."""
    origin = ("Generated from the column specs (`solas/schema/tables.py`) by "
              f"`solas db schema --survey {survey}`; the portal's schema page shows the "
              "same text. Do not edit by hand.")
    meaning = ("Each computed column says what it is, its units and the points it uses, "
               "exactly when it is NULL (an undefined value is NULL, never 0 or NaN), and "
               "where Solas deliberately differs from Lasair, how to get Lasair's value.")
    lines = [f"# Schema reference ({survey.upper()} deployment)", "", origin, "", meaning,
             ""]
    for table in reference_tables(survey):
        tables_field = (f" (tables field: `{table['spec_name']}`)"
                        if table["spec_name"] != table["name"] else "")
        lines += [f"## {table['name']}{tables_field}", "", table["doc"] + ".", ""]
        for col in table["columns"]:
            text = col["definition"] or "(no description)"
            lines.append(f"- `{col['name']}` {col['type']}: {text}")
        lines.append("")
    return "\n".join(lines)
