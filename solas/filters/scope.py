"""The tables a filter's SQL can see, their columns, and the generated FROM/JOIN clause.

Columns come from the MariaDB column specs (:func:`solas.schema.tables.mariadb_tables`),
so what a filter may name is exactly what the database holds.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from solas.filters.errors import FilterError
from solas.filters.tables_spec import TablesSpec
from solas.schema.tables import mariadb_tables

SURVEYS = ("lsst", "ztf")
# Column giving the time of an object's latest alert: streaming rows come in this order.
TIME_COLUMNS = {"lsst": "lastDiaSourceMjdTai", "ztf": "jdmax"}


class TableRef(NamedTuple):
    """A table as filter SQL names it: ``name`` is what users write, ``sql`` the
    rendered qualifier, ``table`` the MariaDB table, ``columns`` lower -> real name."""

    name: str
    sql: str
    table: str
    columns: dict[str, str]


class Scope(NamedTuple):
    """Everything a filter of ``survey`` with these tables may reference."""

    survey: str
    tables: dict[str, TableRef]  # by lower-case name
    object_id: str
    time_column: str
    from_sql: str
    root: str = "objects"
    """The table every row stands for (``objects``; ``ss_objects`` for a solar-system
    filter): the object id, the time column and the batch restriction are its."""


def check_survey(survey: str) -> str:
    """The survey, or :class:`FilterError` if Solas does not know it."""
    if survey not in SURVEYS:
        raise FilterError(f"unknown survey {survey!r} (expected one of {SURVEYS})",
                          field="survey")
    return survey


FILTER_TABLES = ("objects", "sherlock_classifications", "crossmatch_tns", "watchlist_hits",
                 "area_hits", "annotations", "ss_objects", "ss_sources")
"""Every table a filter's generated FROM/JOIN clause can name (:func:`build_scope`): the
read-only account may SELECT these and nothing else (never users, tokens, queues)."""


def filter_tables(survey: str) -> list[str]:
    """The tables of :data:`FILTER_TABLES` that ``survey``'s database has."""
    names = {spec.name for spec in mariadb_tables(check_survey(survey))}
    return [t for t in FILTER_TABLES if t in names]


@lru_cache(maxsize=4)
def table_columns(survey: str) -> dict[str, dict[str, str]]:
    """Columns (lower -> real name) of every MariaDB table of ``survey``."""
    return {spec.name: {name.lower(): name for name in spec.column_names}
            for spec in mariadb_tables(survey)}


@lru_cache(maxsize=4)
def table_kinds(survey: str) -> dict[str, dict[str, str]]:
    """Column kinds (real name -> kind, see :mod:`solas.schema.columns`) of every
    MariaDB table of ``survey``."""
    return {spec.name: {col.name: col.kind for col in spec.columns}
            for spec in mariadb_tables(survey)}


def object_id_column(survey: str) -> str:
    """The object id column of ``objects`` (diaObjectId or objectId)."""
    return next(s for s in mariadb_tables(check_survey(survey))
                if s.name == "objects").primary_key[0]


def build_scope(spec: TablesSpec, survey: str) -> Scope:
    """The tables of ``spec`` with their columns and the FROM/JOIN clause joining them
    on the object id (crossmatch_tns on ``objects.tns_name``)."""
    columns = table_columns(check_survey(survey))
    if spec.solar_system:
        return _solar_system_scope(spec, survey, columns)
    oid = object_id_column(survey)
    refs = [TableRef("objects", "objects", "objects", columns["objects"])]
    joins = ["FROM objects"]

    def join(ref: TableRef, extra: str = "", on: str = "") -> None:
        refs.append(ref)
        alias = "" if ref.sql == ref.table else f" AS {ref.sql}"
        on = on or f"{ref.sql}.{oid} = objects.{oid}"
        joins.append(f"JOIN {ref.table}{alias} ON {on}{extra}")

    if spec.sherlock:
        name = "sherlock_classifications"
        join(TableRef(name, name, name, columns[name]))
    if spec.crossmatch_tns:
        name = "crossmatch_tns"
        join(TableRef(name, name, name, columns[name]),
             on="crossmatch_tns.tns_name = objects.tns_name")
    if spec.watchlist is not None:
        join(TableRef("watchlist_hits", "watchlist_hits", "watchlist_hits",
                      columns["watchlist_hits"]),
             f" AND watchlist_hits.wl_id = {int(spec.watchlist)}")
    for ar_id in spec.watchmaps:
        alias = "area_hits" if len(spec.watchmaps) == 1 else f"area_hits_{int(ar_id)}"
        join(TableRef(alias, alias, "area_hits", columns["area_hits"]),
             f" AND {alias}.ar_id = {int(ar_id)}")
    for topic in spec.annotators:
        alias = f"`{topic}`"  # topics are plain names (tables_spec): safe to quote
        join(TableRef(topic, alias, "annotations", columns["annotations"]),
             f" AND {alias}.topic = '{topic}'")
    return Scope(survey, {ref.name.lower(): ref for ref in refs}, oid,
                 TIME_COLUMNS[survey], " ".join(joins))


SS_ROOT, SS_OBJECT_ID, SS_TIME_COLUMN = "ss_objects", "ssObjectId", "lastDiaSourceMjdTai"


def _solar_system_scope(spec: TablesSpec, survey: str,
                        columns: dict[str, dict[str, str]]) -> Scope:
    """The scope of a solar-system filter: ``FROM ss_objects`` [``JOIN ss_sources``]."""
    if SS_ROOT not in columns:
        raise FilterError(f"ss_objects and ss_sources are Rubin solar-system tables: this "
                          f"is a {survey} deployment, which has none", field="tables")
    refs = [TableRef(SS_ROOT, SS_ROOT, SS_ROOT, columns[SS_ROOT])]
    joins = [f"FROM {SS_ROOT}"]
    if spec.ss_sources:
        refs.append(TableRef("ss_sources", "ss_sources", "ss_sources", columns["ss_sources"]))
        joins.append(f"JOIN ss_sources ON ss_sources.{SS_OBJECT_ID} = {SS_ROOT}.{SS_OBJECT_ID}")
    return Scope(survey, {ref.name.lower(): ref for ref in refs}, SS_OBJECT_ID,
                 SS_TIME_COLUMN, " ".join(joins), SS_ROOT)


def missing_table_hint(name: str, spec: TablesSpec | None) -> str:
    """Why ``name`` is not a table of this filter, and what to do instead."""
    lower = name.lower()
    if spec is not None and spec.solar_system and lower != "ss_sources":
        return (f"table {name} cannot be used in a solar-system filter (tables ss_objects, "
                f"ss_sources): it has only ss_objects and ss_sources")
    if lower == "ss_sources":
        return "table ss_sources is not in the tables of this filter: add ss_sources"
    if lower == "ss_objects":
        return ("ss_objects is a solar-system table: list ss_objects (alone, or with "
                "ss_sources) in the tables to make a solar-system filter")
    if lower in ("sherlock_classifications", "crossmatch_tns"):
        return f"table {lower} is not in the tables of this filter: add it to the tables"
    if lower == "watchlist_hits":
        return "watchlist_hits needs a watchlist: add watchlist:<id> to the tables"
    if re.fullmatch(r"area_hits(_\d+)?", lower):
        maps = spec.watchmaps if spec is not None else ()
        if len(maps) > 1:
            names = ", ".join(f"area_hits_{ar}" for ar in maps)
            return f"with several watchmaps, name their hits {names}"
        if maps:
            return "with one watchmap, name its hits area_hits"
        return "area_hits needs a watchmap: add watchmap:<id> to the tables"
    if lower == "annotations":
        return ("name annotations by their annotator: add annotator:<topic> to the tables "
                "and write <topic>.classification")
    if lower in ("information_schema", "mysql", "performance_schema", "sys"):
        return f"the system schema {lower} is not accessible to filters"
    if lower in table_columns("lsst"):
        return f"table {lower} cannot be used in filters"
    return f"unknown table {name}"
