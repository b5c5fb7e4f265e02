"""Build the one SQL statement a filter runs, on demand or on a batch of objects.

::

    SET STATEMENT max_statement_time=N FOR
    SELECT <vetted list> FROM objects JOIN ... WHERE (<vetted conditions>)
        [AND objects.<id> IN (<batch ids>)] [ORDER BY ...] LIMIT n OFFSET m

A solar-system filter (tables ``ss_objects``/``ss_sources``) has ``ss_objects`` and its
``ssObjectId`` where this shows ``objects`` and its id.

On demand the filter runs over the whole database; in streaming mode
(``batch_objects``) the same conditions run over the objects of one batch only, rows in
time order of their latest alert (then the user's ORDER BY, then the object id).  The
SQL is valid MariaDB 10.11 in the default SQL mode.  Vet once with
:func:`compile_filter` and render per batch with :func:`render_query` (render the batch
ids once per batch with :func:`object_id_list`); :func:`build_query` does both.
"""
from __future__ import annotations

import math
import re
from typing import Iterable, NamedTuple

import numpy as np

from solas.filters.errors import FilterError
from solas.filters.scope import build_scope, check_survey, object_id_column
from solas.filters.tables_spec import AccessCheck, TablesSpec, check_access, parse_tables
from solas.filters.vet import (FreeResolver, SchemaResolver, SelectItem, vet_conditions,
                               vet_select)

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
MIN_STATEMENT_TIME_S = 0.001  # MariaDB counts microseconds; 0 would mean no limit
ZTF_OBJECT_ID = r"ZTF[0-9]{2}[a-z]{7}"
_ZTF_LIST = re.compile(rf"{ZTF_OBJECT_ID}(?:,{ZTF_OBJECT_ID})*")


class CompiledFilter(NamedTuple):
    """A vetted filter, ready to render for any limit or batch."""

    survey: str
    tables: TablesSpec
    select: tuple[SelectItem, ...]
    from_sql: str
    where: str | None
    order: tuple[str, ...]
    object_id: str
    time_column: str
    root: str = "objects"
    """``objects``, or ``ss_objects`` for a solar-system filter (see
    :mod:`solas.filters.tables_spec`)."""

    @property
    def keys(self) -> list[str]:
        """Output keys of each row, in SELECT order."""
        return [item.key for item in self.select]


class ObjectIdList(NamedTuple):
    """Object ids rendered as SQL literals (``sql`` is comma-separated, exact)."""

    survey: str
    sql: str
    count: int


def compile_filter(selected: str, tables: str | TablesSpec, conditions: str | None,
                   survey: str, *, access: AccessCheck | None = None) -> CompiledFilter:
    """Parse and vet a filter's three strings for ``survey`` ('lsst' or 'ztf').

    With ``access``, watchlists, watchmaps and annotators that are missing or private
    to another user are refused (see :func:`parse_tables`).  Raises
    :class:`FilterError` naming the part, the position and the problem.
    """
    check_survey(survey)
    if isinstance(tables, TablesSpec):
        spec = parse_tables(tables.text())  # re-validate ids and topics made elsewhere
        if spec != tables:
            raise FilterError(f"invalid tables spec {tables!r}", field="tables")
        if access is not None:
            check_access(spec, access)
    else:
        spec = parse_tables(tables, access)
    scope = build_scope(spec, survey)
    items = vet_select(selected, SchemaResolver(scope, spec))
    aliases = {item.key.lower(): item.key for item in items if item.aliased}
    vetted = vet_conditions("" if conditions is None else conditions,
                            SchemaResolver(scope, spec, aliases))
    return CompiledFilter(survey, spec, tuple(items), scope.from_sql, vetted.where,
                          vetted.order, scope.object_id, scope.time_column, scope.root)


def render_query(compiled: CompiledFilter, *, limit: int, offset: int = 0,
                 batch_objects: Iterable | ObjectIdList | None = None,
                 order_by_time: bool = False, max_statement_time_s: float = 10,
                 with_object_id: bool = False) -> str:
    """The SQL statement of a compiled filter (see the module docstring).

    ``batch_objects``: object ids of one batch (ints for lsst, ZTF id strings for ztf),
    or an :class:`ObjectIdList`; rows then come in time order.  ``order_by_time`` asks
    for time order on demand too.  ``max_statement_time_s`` (>= 0.001 s) bounds the
    server's work.  ``with_object_id`` puts the object id first in each row, before
    the user's columns (the streaming stage needs it to attach the alert).
    """
    seconds = _statement_time(max_statement_time_s)
    root = "ss_objects" if compiled.root == "ss_objects" else "objects"  # never user text
    limit, offset = _count(limit, "limit"), _count(offset, "offset")
    conditions = [] if compiled.where is None else [f"({compiled.where})"]
    if batch_objects is not None:
        ids = (batch_objects if isinstance(batch_objects, ObjectIdList)
               else object_id_list(batch_objects, compiled.survey))
        if ids.survey != compiled.survey:
            raise FilterError(f"ids are {ids.survey} ids, the filter is for "
                              f"{compiled.survey}", field="batch_objects")
        conditions.append(f"{root}.{compiled.object_id} IN ({ids.sql})" if ids.count
                          else "FALSE")
    order = list(compiled.order)
    if order_by_time or batch_objects is not None:
        order = [f"{root}.{compiled.time_column}", *order,
                 f"{root}.{compiled.object_id}"]
    columns = [item.sql() for item in compiled.select]
    if with_object_id:
        columns.insert(0, f"{root}.{compiled.object_id}")
    sql = (f"SET STATEMENT max_statement_time={seconds} FOR SELECT "
           f"{', '.join(columns)} {compiled.from_sql}")
    if conditions:
        sql += " WHERE " + " AND ".join(conditions)
    if order:
        sql += " ORDER BY " + ", ".join(order)
    return f"{sql} LIMIT {limit} OFFSET {offset}"


def build_query(selected: str, tables: str | TablesSpec, conditions: str | None,
                survey: str, *, limit: int, offset: int = 0,
                batch_objects: Iterable | ObjectIdList | None = None,
                order_by_time: bool = False, max_statement_time_s: float = 10,
                access: AccessCheck | None = None) -> str:
    """Vet a filter and return its SQL statement (:func:`compile_filter` then
    :func:`render_query`).  Pass ``access`` whenever the filter is run or saved for a
    user, so that other users' private watchlists, watchmaps and annotators are
    refused."""
    compiled = compile_filter(selected, tables, conditions, survey, access=access)
    return render_query(compiled, limit=limit, offset=offset, batch_objects=batch_objects,
                        order_by_time=order_by_time,
                        max_statement_time_s=max_statement_time_s)


def select_aliases(selected: str) -> list[str]:
    """Output keys of each row of a filter (the keys of its Kafka messages): the alias
    given with AS, else the column name as written.  Vets the syntax but not the column
    names (no schema needed)."""
    return [item.key for item in vet_select(selected, FreeResolver())]


def object_id_list(ids: Iterable, survey: str) -> ObjectIdList:
    """Render object ids as exact SQL literals: 64-bit integers for lsst (ints or an
    integer numpy array; floats are refused, they cannot hold every id), quoted
    ``ZTFyyaaaaaaa`` strings for ztf.  Raises :class:`FilterError` on a bad id."""
    check_survey(survey)
    if isinstance(ids, (str, bytes)):
        raise FilterError("ids must be a sequence of ids, not one string",
                          field="batch_objects")
    if object_id_column(survey) == "objectId":
        return _ztf_ids(list(ids), survey)
    return _integer_ids(ids, survey)


def _integer_ids(ids: Iterable, survey: str) -> ObjectIdList:
    array = ids if isinstance(ids, np.ndarray) else np.asarray(list(ids), dtype=object)
    if array.ndim != 1:
        raise FilterError(f"ids must be one-dimensional, not shape {array.shape}",
                          field="batch_objects")
    if array.dtype.kind in "iu":  # numpy integers: no per-id Python checks
        if array.size and array.dtype.kind == "u" and int(array.max()) > INT64_MAX:
            raise FilterError("object ids must fit in a signed 64-bit integer",
                              field="batch_objects")
        values = array.tolist()
    elif array.dtype.kind == "O":
        if any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in array):
            raise FilterError("object ids must all be integers (a float cannot hold every "
                              "64-bit id)", field="batch_objects")
        values = [int(v) for v in array]
        if values and (min(values) < INT64_MIN or max(values) > INT64_MAX):
            raise FilterError("object ids must fit in a signed 64-bit integer",
                              field="batch_objects")
    else:
        raise FilterError(f"object ids must be integers, not {array.dtype} (a float "
                          "cannot hold every 64-bit id)", field="batch_objects")
    return ObjectIdList(survey, ",".join(map(str, values)), len(values))


def _ztf_ids(ids: list, survey: str) -> ObjectIdList:
    if not ids:
        return ObjectIdList(survey, "", 0)
    if not all(isinstance(v, str) and len(v) == 12 for v in ids) or not _ZTF_LIST.fullmatch(
            ",".join(ids)):
        bad = next(v for v in ids
                   if not isinstance(v, str) or not re.fullmatch(ZTF_OBJECT_ID, v))
        raise FilterError(f"bad ZTF object id {bad!r} (expected ZTFyyaaaaaaa)",
                          field="batch_objects")
    return ObjectIdList(survey, "'" + "','".join(ids) + "'", len(ids))


def _count(value: int, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not (
            0 <= value <= INT64_MAX):
        raise FilterError(f"must be a whole number >= 0, not {value!r}", field=field)
    return int(value)


def _statement_time(seconds: float) -> str:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not (
            math.isfinite(seconds) and seconds >= MIN_STATEMENT_TIME_S):
        raise FilterError(f"must be a number of seconds >= {MIN_STATEMENT_TIME_S}, not "
                          f"{seconds!r}", field="max_statement_time_s")
    return f"{seconds:.3f}".rstrip("0").rstrip(".")
