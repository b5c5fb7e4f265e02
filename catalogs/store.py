"""Catalogues in MariaDB: ``solas catalogs load`` writes them, workers read them back.

Loading streams each catalogue in bounded batches (a full-size Milliquas or GLADE+
file loads in bounded memory): the catalogue's old rows are deleted, every batch is
written with one multi-row INSERT, and the ``catalogues`` row records provenance,
row count and a version.  :func:`read_catalogues` gives the rows back in the
normalised layout for the classifier's in-memory index.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np

from catalogs.model import CatalogueRows, rows_from_columns
from catalogs.sources import CATALOGUES, catalogue_path, iter_catalogue
from catalogs import loaders

INSERT_ROWS = 5_000
"""Rows per multi-row INSERT."""

# (MariaDB column, CatalogueRows field) in table order after (catalogue, seq).
COLUMNS = (("id", "id"), ("ra", "ra"), ("decl", "dec"), ("type", "type"), ("mag", "mag"),
           ("mag_filter", "mag_filter"), ("mag_err", "mag_err"), ("z", "z"),
           ("photo_z", "photo_z"), ("photo_z_err", "photo_z_err"),
           ("distance", "distance"), ("direct", "direct"), ("major_axis", "major_axis"),
           ("minor_axis", "minor_axis"), ("position_angle", "position_angle"),
           ("role", "role"))


class LoadResult(NamedTuple):
    """What one catalogue load did."""

    name: str
    rows: int
    version: str
    seconds: float


def file_version(path: Path) -> str:
    """A short hash of the file's name, size and first MiB (changes when it is replaced)."""
    digest = hashlib.sha256(f"{path.name}:{path.stat().st_size}".encode())
    with open(path, "rb") as f:
        digest.update(f.read(1 << 20))
    return digest.hexdigest()[:16]


def _sql_values(rows: CatalogueRows, name: str, first_seq: int,
                hpx: np.ndarray) -> list[tuple]:
    """One parameter tuple per row; NaN and empty strings become NULL."""
    columns = []
    for _, field in COLUMNS:
        values = getattr(rows, field)
        if values.dtype.kind == "f":
            columns.append([None if v != v else float(v) for v in values.tolist()])
        elif values.dtype == object:
            columns.append([v if v else None for v in values.tolist()])
        else:
            columns.append(values.tolist())
    seq = range(first_seq, first_seq + len(rows))
    return [(name, s, *vals, h) for s, *vals, h in zip(seq, *columns, hpx.tolist())]


def _insert_sql() -> str:
    names = ", ".join(f"`{c}`" for c in ("catalogue", "seq", *(c for c, _ in COLUMNS), "hpx16"))
    marks = ", ".join(["%s"] * (len(COLUMNS) + 3))
    return f"INSERT INTO catalogue_sources ({names}) VALUES ({marks})"


def write_catalogue(cursor, name: str, batches: Iterable[CatalogueRows], version: str,
                    hpx: Callable[[np.ndarray, np.ndarray], np.ndarray],
                    progress: Callable[[int], None] = lambda n: None) -> int:
    """Replace catalogue ``name`` in MariaDB with the rows of ``batches``; returns the
    number of rows.  ``hpx(ra, dec)`` gives the sky index of each row."""
    cursor.execute("DELETE FROM catalogue_sources WHERE catalogue=%s", (name,))
    sql, seq = _insert_sql(), 0
    for rows in batches:
        values = _sql_values(rows, name, seq, hpx(rows.ra, rows.dec))
        for start in range(0, len(values), INSERT_ROWS):
            cursor.executemany(sql, values[start:start + INSERT_ROWS])
        seq += len(rows)
        progress(len(rows))
    entry = CATALOGUES[name]
    cursor.execute(
        "REPLACE INTO catalogues (name, role, source, licence, url, row_count, version, "
        "loaded) VALUES (%s, %s, %s, %s, %s, %s, %s, NOW(6))",
        (name, entry.role.name, entry.provenance.source, entry.provenance.licence,
         entry.provenance.url, seq, version))
    return seq


def catalogue_batches(name: str, data_dir: Path, distances: dict[str, float] | None,
                      batch_rows: int) -> Iterator[CatalogueRows]:
    """Stream catalogue ``name``; galaxies get NED-D direct distances when known."""
    for rows in iter_catalogue(name, catalogue_path(name, data_dir), batch_rows):
        yield loaders.with_direct_distances(rows, distances) if distances else rows


def read_catalogues(cursor, names: Iterable[str] | None = None) -> dict[str, CatalogueRows]:
    """Every loaded catalogue (or ``names``) as normalised rows, in
    :data:`~catalogs.sources.CATALOGUES` order (the classifier's tie-break order)."""
    cursor.execute("SELECT name FROM catalogues")
    loaded = {r[0] for r in cursor.fetchall()}
    wanted = [n for n in CATALOGUES if n in loaded and (names is None or n in names)]
    fields = ", ".join(f"`{c}`" for c, _ in COLUMNS)
    out = {}
    for name in wanted:
        cursor.execute(f"SELECT {fields} FROM catalogue_sources WHERE catalogue=%s "
                       "ORDER BY seq", (name,))
        out[name] = _rows_from_sql(cursor.fetchall())
    return out


def _rows_from_sql(records: list[tuple]) -> CatalogueRows:
    columns = list(zip(*records)) if records else [()] * len(COLUMNS)
    data: dict[str, object] = {}
    for (_, field), values in zip(COLUMNS, columns):
        if field in ("id", "type", "mag_filter"):
            data[field] = ["" if v is None else v for v in values]
        elif field in ("direct", "role"):
            data[field] = np.asarray(values, dtype=np.int64)
        else:
            data[field] = np.array([np.nan if v is None else v for v in values], float)
    return rows_from_columns(data, len(records))


def context_version(cursor) -> str:
    """Version of everything the sherlock stage reads: the loaded catalogues (name,
    file version, rows) and the number of TNS objects."""
    cursor.execute("SELECT name, version, row_count FROM catalogues ORDER BY name")
    parts = [f"{n}:{v}:{c}" for n, v, c in cursor.fetchall()]
    cursor.execute("SELECT COUNT(*) FROM crossmatch_tns")
    parts.append(f"tns:{cursor.fetchone()[0]}")
    return hashlib.sha256(";".join(parts).encode()).hexdigest()[:16]


TNS_COLUMNS = ("tns_name", "tns_prefix", "ra", "decl", "type", "z", "discovery_date",
               "discovery_mag", "discovery_filter", "reporting_group", "source_group",
               "internal_names", "hpx16")


def write_tns(cursor, batches: Iterable[list], progress: Callable[[int], None] = lambda n: None
              ) -> int:
    """Upsert TNS rows (:class:`catalogs.tns.TnsRow` batches) into ``crossmatch_tns``:
    new objects are added and known ones updated; returns the number of rows."""
    names = ", ".join(f"`{c}`" for c in TNS_COLUMNS)
    updates = ", ".join(f"`{c}`=VALUES(`{c}`)" for c in TNS_COLUMNS[1:])
    sql = (f"INSERT INTO crossmatch_tns ({names}) VALUES ({', '.join(['%s'] * len(TNS_COLUMNS))})"
           f" ON DUPLICATE KEY UPDATE {updates}")
    total = 0
    for batch in batches:
        for start in range(0, len(batch), INSERT_ROWS):
            cursor.executemany(sql, [tuple(r) for r in batch[start:start + INSERT_ROWS]])
        total += len(batch)
        progress(len(batch))
    return total


def read_tns(cursor) -> list:
    """Every ``crossmatch_tns`` row as :class:`catalogs.tns.TnsRow`."""
    from catalogs.tns import TnsRow

    cursor.execute(f"SELECT {', '.join(f'`{c}`' for c in TNS_COLUMNS)} FROM crossmatch_tns")
    return [TnsRow(*row) for row in cursor.fetchall()]
