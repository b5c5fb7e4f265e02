"""One column spec per table, rendered to MariaDB and to Cassandra DDL.

A :class:`TableSpec` lists typed :class:`Column` objects and its keys once;
:func:`mariadb_create` and :func:`cql_create` render it for each store, and
:func:`mariadb_add_columns` / :func:`cql_add_columns` give the ``ALTER``
statements that upgrade an existing table to the spec without losing data.
"""
from __future__ import annotations

import base64
from functools import lru_cache
from typing import Any, NamedTuple

import orjson

# Portable column kinds -> (MariaDB type, CQL type).
KINDS: dict[str, tuple[str, str]] = {
    "bigint": ("BIGINT", "bigint"),
    "int": ("INT", "int"),
    "smallint": ("SMALLINT", "smallint"),
    "double": ("DOUBLE", "double"),
    "float": ("FLOAT", "float"),
    "bool": ("BOOLEAN", "boolean"),
    "text": ("TEXT", "text"),
    "json": ("LONGTEXT", "text"),
    "bytes": ("LONGBLOB", "blob"),
    "datetime": ("DATETIME(6)", "timestamp"),
    "date": ("DATE", "date"),
}

#: The Cassandra column holding a spec's :attr:`TableSpec.packed` columns, as one JSON
#: object of the non-null ones.
PACKED_COLUMN = "extra"

# Avro primitive types -> portable kinds.
AVRO_KINDS = {"long": "bigint", "int": "int", "double": "double", "float": "float",
              "boolean": "bool", "string": "text", "bytes": "bytes"}


#: Longest column comment MariaDB stores.
MARIADB_COMMENT_MAX = 1024


class Column(NamedTuple):
    """A typed column: ``kind`` is a key of :data:`KINDS` or ``varchar(N)``.

    A computed column (a feature) is defined by ``doc`` (what it is, its units and the
    points it uses), ``null_when`` (exactly when it is NULL; ``"never"`` if it cannot
    be) and, where Solas deliberately differs from Lasair, ``lasair`` (the difference
    and how to get Lasair's value).  :attr:`definition` joins them; the MariaDB column
    comment, the portal's schema page and ``solas db schema`` all show it.
    """

    name: str
    kind: str
    doc: str = ""
    nullable: bool = True
    default: str | None = None
    null_when: str = ""
    lasair: str = ""

    @property
    def definition(self) -> str:
        """``doc``, then "NULL when ..." and the difference from Lasair where given,
        one text."""
        parts = [self.doc.rstrip(".") + "." if self.doc else ""]
        if self.null_when:
            parts.append(f"NULL when {self.null_when}." if self.null_when != "never"
                         else "Never NULL.")
        if self.lasair:
            parts.append(self.lasair.rstrip(".") + ".")
        return " ".join(p for p in parts if p)

    def mariadb_type(self) -> str:
        """The MariaDB column type."""
        if self.kind.startswith("varchar("):
            return self.kind.upper()
        return KINDS[self.kind][0]

    def cql_type(self) -> str:
        """The Cassandra column type."""
        if self.kind.startswith("varchar("):
            return "text"
        return KINDS[self.kind][1]


class TableSpec(NamedTuple):
    """A table: its columns, primary key and secondary indexes.

    ``primary_key`` lists the partition key columns first; for Cassandra the
    first ``partition_columns`` of them form the partition key and the rest
    are clustering columns.
    """

    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    doc: str = ""
    indexes: tuple[tuple[str, ...], ...] = ()
    partition_columns: int = 1
    auto_increment: str | None = None
    default_ttl_s: int | None = None
    compressed: bool = True  # False for already-compressed payloads (cutouts)
    #: Cassandra compaction options, ``class`` first; empty: Cassandra's default.
    compaction: tuple[tuple[str, str], ...] = ()
    #: Columns stored together in the column :data:`PACKED_COLUMN` (Cassandra light
    #: curves): declared with their types, but not columns of the DDL.
    packed: tuple[Column, ...] = ()

    def column(self, name: str) -> Column:
        """The column called ``name``."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"table {self.name} has no column {name}")

    @property
    def column_names(self) -> list[str]:
        """Column names in declaration order."""
        return [c.name for c in self.columns]

    @property
    def packed_names(self) -> list[str]:
        """Names of the :attr:`packed` columns in declaration order."""
        return [c.name for c in self.packed]


def _check(spec: TableSpec) -> None:
    names = [n.lower() for n in spec.column_names]  # MariaDB names are case-insensitive
    if len(set(names)) != len(names):
        raise ValueError(f"table {spec.name} declares a column twice")
    missing = [k for k in spec.primary_key if k not in spec.column_names]
    if missing:
        raise ValueError(f"table {spec.name}: key columns {missing} are not declared")
    if spec.packed and PACKED_COLUMN not in spec.column_names:
        raise ValueError(f"table {spec.name} packs columns but has no {PACKED_COLUMN} column")
    if {c.name.lower() for c in spec.packed} & set(names):
        raise ValueError(f"table {spec.name} declares a packed column as a column too")


def _mariadb_column(col: Column, auto_increment: bool) -> str:
    text = f"`{col.name}` {col.mariadb_type()}"
    if not col.nullable or auto_increment:
        text += " NOT NULL"
    if auto_increment:
        text += " AUTO_INCREMENT"
    elif col.default is not None:
        text += f" DEFAULT {col.default}"
    comment = col.definition if col.null_when or col.lasair else col.doc
    if comment:
        if len(comment) > MARIADB_COMMENT_MAX:
            raise ValueError(f"column {col.name}: its definition is {len(comment)} "
                             f"characters, MariaDB keeps {MARIADB_COMMENT_MAX}")
        text += " COMMENT '" + comment.replace("'", "''") + "'"
    return text


def mariadb_create(spec: TableSpec) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for MariaDB."""
    _check(spec)
    parts = [_mariadb_column(c, c.name == spec.auto_increment) for c in spec.columns]
    parts.append("PRIMARY KEY (" + ", ".join(f"`{k}`" for k in spec.primary_key) + ")")
    for index in spec.indexes:
        name = "idx_" + "_".join(index)
        parts.append(f"KEY `{name}` (" + ", ".join(f"`{k}`" for k in index) + ")")
    body = ",\n  ".join(parts)
    comment = spec.doc.replace("'", "''")
    return (f"CREATE TABLE IF NOT EXISTS `{spec.name}` (\n  {body}\n) ENGINE=InnoDB "
            f"DEFAULT CHARSET=utf8mb4 COMMENT='{comment}'")


def mariadb_add_columns(spec: TableSpec, existing: set[str]) -> list[str]:
    """``ALTER TABLE ... ADD COLUMN`` for spec columns missing from ``existing``."""
    lower = {e.lower() for e in existing}
    return [f"ALTER TABLE `{spec.name}` ADD COLUMN {_mariadb_column(c, False)}"
            for c in spec.columns if c.name.lower() not in lower]


def _cql_name(name: str) -> str:
    return f'"{name}"' if name != name.lower() else name


def cql_create(spec: TableSpec, keyspace: str) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for Cassandra (case-preserving names)."""
    _check(spec)
    cols = ",\n  ".join(f"{_cql_name(c.name)} {c.cql_type()}" for c in spec.columns)
    part = spec.primary_key[:spec.partition_columns]
    clustering = spec.primary_key[spec.partition_columns:]
    key = "(" + ", ".join(_cql_name(k) for k in part) + ")"
    if clustering:
        key += ", " + ", ".join(_cql_name(k) for k in clustering)
    options = []
    if clustering:
        options.append("CLUSTERING ORDER BY (" +
                       ", ".join(f"{_cql_name(k)} ASC" for k in clustering) + ")")
    if spec.default_ttl_s:
        options.append(f"default_time_to_live = {int(spec.default_ttl_s)}")
    if not spec.compressed:
        options.append("compression = {'enabled': 'false'}")
    if spec.compaction:
        options.append(_cql_compaction(spec))
    with_clause = (" WITH " + " AND ".join(options)) if options else ""
    return (f"CREATE TABLE IF NOT EXISTS {keyspace}.{_cql_name(spec.name)} (\n  {cols},\n"
            f"  PRIMARY KEY ({key})\n){with_clause}")


def cql_add_columns(spec: TableSpec, keyspace: str, existing: set[str]) -> list[str]:
    """``ALTER TABLE ... ADD`` for spec columns missing from ``existing``."""
    return [f"ALTER TABLE {keyspace}.{_cql_name(spec.name)} ADD {_cql_name(c.name)} "
            f"{c.cql_type()}" for c in spec.columns if c.name not in existing]


def _cql_compaction(spec: TableSpec) -> str:
    return "compaction = {" + ", ".join(f"'{k}': '{v}'" for k, v in spec.compaction) + "}"


def cql_alter_compaction(spec: TableSpec, keyspace: str, current: dict[str, str]
                         ) -> list[str]:
    """``ALTER TABLE ... WITH compaction`` when the table's ``current`` compaction options
    (as ``system_schema.tables`` gives them) are not the spec's; nothing otherwise."""
    if not spec.compaction:
        return []
    wanted = dict(spec.compaction)
    current = dict(current)
    same_class = current.pop("class", "").rsplit(".", 1)[-1] == wanted.pop("class")
    if same_class and all(current.get(k) == v for k, v in wanted.items()):
        return []
    return [f"ALTER TABLE {keyspace}.{_cql_name(spec.name)} WITH {_cql_compaction(spec)}"]


def cql_insert(spec: TableSpec, keyspace: str, ttl: bool = False) -> str:
    """A prepared-statement ``INSERT`` naming every column of the spec."""
    names = ", ".join(_cql_name(c.name) for c in spec.columns)
    marks = ", ".join("?" for _ in spec.columns)
    using = " USING TTL ?" if ttl else ""
    return f"INSERT INTO {keyspace}.{_cql_name(spec.name)} ({names}) VALUES ({marks}){using}"


def columns_from_fields(fields: list[tuple[str, str]], first: tuple[Column, ...] = ()
                        ) -> tuple[Column, ...]:
    """Columns for native Avro ``(name, primitive type)`` fields after ``first``."""
    seen = {c.name for c in first}
    extra = tuple(Column(name, AVRO_KINDS[kind]) for name, kind in fields
                  if name not in seen and kind in AVRO_KINDS)
    return first + extra


@lru_cache(maxsize=64)
def _column_set(columns: tuple[str, ...]) -> frozenset[str]:
    return frozenset(columns)


def packed_row(row: dict[str, Any], columns: tuple[str, ...]
               ) -> tuple[tuple[str, ...], list]:
    """The names and values to store for ``row``: its non-null ``columns``, then, if any
    other field is not null, :data:`PACKED_COLUMN` with those fields as one JSON object,
    by name in the row's order (the spec's packed columns, and any field the spec does not
    declare: a field of a schema newer than the column spec is kept, not dropped).

    64-bit integers stay exact and floats round-trip; NaN and infinities become null;
    bytes become base64 text.  Any other value JSON cannot hold raises ``TypeError``."""
    names = tuple(n for n in columns if row.get(n) is not None)
    values = [row[n] for n in names]
    stored = _column_set(columns)
    extra = {n: v for n, v in row.items() if v is not None and n not in stored}
    if extra:
        names += (PACKED_COLUMN,)
        values.append(orjson.dumps(extra, default=_base64).decode())
    return names, values


def _base64(value: Any) -> str:
    """Bytes (an Avro ``bytes`` field a newer schema may add) as base64 text."""
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def unpacked_row(spec: TableSpec, row: dict[str, Any]) -> dict[str, Any]:
    """A stored row of ``spec`` as the point it was: every declared column in order (None
    where it has no value), with the packed ones taken out of :data:`PACKED_COLUMN`.  A
    value in a column of the table's older, unpacked layout is kept too.  A
    :data:`PACKED_COLUMN` that is not a JSON object (not written by Solas) is kept as its
    text under that name, so the point's typed values still show."""
    point = dict.fromkeys(n for n in (*spec.column_names, *spec.packed_names)
                          if n != PACKED_COLUMN)
    point.update((k, v) for k, v in row.items() if v is not None and k != PACKED_COLUMN)
    extra = row.get(PACKED_COLUMN)
    if extra:
        packed = _json_object(extra)
        point.update({PACKED_COLUMN: extra} if packed is None else packed)
    return point


def _json_object(text: str) -> dict | None:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
