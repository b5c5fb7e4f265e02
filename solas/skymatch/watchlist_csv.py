"""Streaming parser of watchlist uploads: CSV rows of name, ra, dec and an optional radius.

Coordinates are decimal degrees or sexagesimal (see :mod:`solas.skymatch.coords`); the
radius is in arcsec.  A header row is optional: when present its column names choose
the columns (in any order, other columns ignored; e.g. ``name,fermi_name,ra,dec,...``),
otherwise the columns are ``name, ra, dec[, radius]``.  Comma, tab, semicolon or ``|``
delimit the fields (the most frequent in the first row); blank lines and ``#`` comments
are skipped, but a commented header (``#name,ra,dec``) is read as the header.

:func:`read_watchlist_csv` yields :class:`ConeRows` batches; each carries the errors
(line number and reason) of the bad rows among its lines, so good rows are never lost.
A file that cannot be read at all raises :class:`WatchlistCsvError`.
"""
from __future__ import annotations

import csv
import itertools
from typing import Iterable, Iterator, NamedTuple

import numpy as np

from solas.skymatch.cones import MAX_NAME_CHARS, MAX_RADIUS_ARCSEC, STRINGS
from solas.skymatch.coords import parse_dec, parse_ra
from solas.skymatch.errors import WatchlistCsvError

MAX_ROWS = 1_000_000
DELIMITERS = ",\t;|"
COLUMN_ALIASES = {
    "name": ("name", "id", "objname", "object", "objectname", "source", "sourcename",
             "designation", "target"),
    "ra": ("ra", "raj2000", "radeg", "ra2000", "alpha", "raj2000deg", "radegrees"),
    "dec": ("dec", "decl", "dej2000", "decj2000", "dedeg", "decdeg", "dec2000", "delta",
            "dej2000deg", "decdegrees"),
    "radius": ("radius", "radiusarcsec", "rad", "r", "radarcsec"),
}


class CsvRowError(NamedTuple):
    """A rejected row: 1-based line number in the upload and the reason."""

    line: int
    reason: str


class ConeRows(NamedTuple):
    """A batch of good watchlist rows and the bad rows met while reading them."""

    line: np.ndarray
    """int64 line number of each good row."""
    name: np.ndarray
    """numpy StringDType names."""
    ra: np.ndarray
    """deg, in [0, 360)."""
    dec: np.ndarray
    """deg."""
    radius_arcsec: np.ndarray
    """arcsec; NaN where the row gives none (the watchlist default applies)."""
    errors: list[CsvRowError]


class _Columns(NamedTuple):
    name: int
    ra: int
    dec: int
    radius: int | None


HEADERLESS = _Columns(0, 1, 2, 3)


def _normalised(header: str) -> str:
    """Column name without case, spaces, punctuation or unit decorations."""
    return "".join(ch for ch in header.lower() if ch.isalnum())


def _columns_from_header(fields: list[str], line: int, source: str) -> _Columns:
    """Column positions named by a header row."""
    names = [_normalised(f) for f in fields]
    found = {}
    for column, aliases in COLUMN_ALIASES.items():
        hits = [i for i, name in enumerate(names) if name in aliases]
        if len(hits) > 1:
            raise WatchlistCsvError(f"{source} line {line}: header names the {column} column "
                                    f"twice: {[fields[i] for i in hits]}")
        found[column] = hits[0] if hits else None
    missing = [c for c in ("name", "ra", "dec") if found[c] is None]
    if missing:
        raise WatchlistCsvError(f"{source} line {line}: header {fields} has no "
                                f"{' / '.join(missing)} column (expected name, ra, dec"
                                f"[, radius])")
    return _Columns(found["name"], found["ra"], found["dec"], found["radius"])


def _is_header(fields: list[str]) -> bool:
    """True if a field of the row names the ra or dec column."""
    aliases = COLUMN_ALIASES["ra"] + COLUMN_ALIASES["dec"]
    return any(_normalised(f) in aliases for f in fields)


def _parse_row(fields: list[str], cols: _Columns) -> tuple[str, float, float, float]:
    """(name, ra, dec, radius) of one row; ValueError with the reason if it is bad."""
    if cols is HEADERLESS and len(fields) not in (3, 4):
        raise ValueError(f"expected 3 or 4 fields (name, ra, dec[, radius]), got {len(fields)}")
    needed = max(cols.name, cols.ra, cols.dec)
    if len(fields) <= needed:
        raise ValueError(f"expected at least {needed + 1} fields, got {len(fields)}")
    name = fields[cols.name].strip()
    if not name:
        raise ValueError("empty name")
    if len(name) > MAX_NAME_CHARS or "\x00" in name:
        raise ValueError(f"name longer than {MAX_NAME_CHARS} characters or containing NUL")
    ra, dec = parse_ra(fields[cols.ra]), parse_dec(fields[cols.dec])
    has_radius = cols.radius is not None and cols.radius < len(fields)
    text = fields[cols.radius].strip() if has_radius else ""
    if not text:
        return name, ra, dec, np.nan
    try:
        radius = float(text)
    except ValueError:
        raise ValueError(f"radius {text!r} is not a number (arcsec)") from None
    if not 0.0 < radius <= MAX_RADIUS_ARCSEC:
        raise ValueError(f"radius {text!r} arcsec is not in (0, {MAX_RADIUS_ARCSEC:g}]")
    return name, ra, dec, radius


#: Bad rows after which a batch is yielded even if it has few good rows (bounded memory).
ERRORS_PER_BATCH = 10_000


def _text_lines(lines: Iterable[str | bytes], bad: list[CsvRowError]) -> Iterator[str]:
    """Decoded lines, one per input line; an undecodable one is blanked and put in ``bad``."""
    for number, line in enumerate(lines, start=1):
        if isinstance(line, bytes):
            try:
                line = line.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as err:
                bad.append(CsvRowError(number, f"not UTF-8 text ({err.reason} at byte "
                                               f"{err.start})"))
                line = "\n"
        elif number == 1:
            line = line.removeprefix("\ufeff")
        yield line


def _uncommented(fields: list[str]) -> list[str]:
    """The fields of a row with the ``#`` of a commented header line removed."""
    return [fields[0].lstrip().lstrip("#"), *fields[1:]] if fields else fields


def _is_blank(fields: list[str]) -> bool:
    return not "".join(fields).strip() or fields[0].lstrip().startswith("#")


class _Batch:
    """Accumulates good rows and errors until a batch is full."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, str, float, float, float]] = []
        self.errors: list[CsvRowError] = []

    def take(self) -> ConeRows:
        line, name, ra, dec, radius = (zip(*self.rows) if self.rows else ((),) * 5)
        batch = ConeRows(np.array(line, np.int64), np.array(name, dtype=STRINGS),
                         np.array(ra, np.float64), np.array(dec, np.float64),
                         np.array(radius, np.float64), self.errors)
        self.rows, self.errors = [], []
        return batch


def _delimited_rows(lines: Iterator[str], source: str):
    """A csv reader over all the lines, its delimiter chosen by the first non-blank line."""
    head = []
    for line in lines:
        head.append(line)
        if line.strip() and not line.lstrip().startswith("#"):
            delimiter = max(DELIMITERS, key=line.count)  # ties: the first listed
            return csv.reader(itertools.chain(head, lines), delimiter=delimiter,
                              skipinitialspace=True)
    raise WatchlistCsvError(f"{source}: no rows")


def read_watchlist_csv(lines: Iterable[str | bytes], *, source: str = "watchlist upload",
                       batch_size: int = 50_000, max_rows: int = MAX_ROWS
                       ) -> Iterator[ConeRows]:
    """Parse a watchlist CSV (a text or binary file object, or any iterable of lines).

    Yields :class:`ConeRows` of up to ``batch_size`` good rows with the errors of the
    bad rows read meanwhile (at most :data:`ERRORS_PER_BATCH` of them: a batch may hold
    only errors).  A line the csv module cannot split (a field over its 128 KiB limit, ...)
    is a bad row.  Raises :class:`WatchlistCsvError` (naming ``source`` and the line)
    for an unusable header, or more than ``max_rows`` good or ``max_rows`` bad rows.
    """
    undecodable: list[CsvRowError] = []
    reader = _delimited_rows(_text_lines(lines, undecodable), source)
    cols, batch, n_rows, n_bad = None, _Batch(), 0, 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as err:  # e.g. "field larger than field limit (131072)"
            fields = None
            batch.errors.append(CsvRowError(reader.line_num, f"not a CSV row ({err})"))
        n_bad += len(undecodable) + (fields is None)
        if n_bad > max_rows:
            raise WatchlistCsvError(f"{source} line {reader.line_num}: more than "
                                    f"{max_rows:,} rejected lines")
        if len(batch.errors) >= ERRORS_PER_BATCH:
            yield batch.take()
        if fields is None:
            continue
        batch.errors.extend(undecodable)
        undecodable.clear()
        if cols is None and _is_header(_uncommented(fields)):
            cols = _columns_from_header(_uncommented(fields), reader.line_num, source)
            continue
        if _is_blank(fields):
            continue
        if cols is None:
            cols = HEADERLESS
        try:
            row = _parse_row(fields, cols)
        except ValueError as err:
            batch.errors.append(CsvRowError(reader.line_num, str(err)))
            n_bad += 1
            continue
        n_rows += 1
        if n_rows > max_rows:
            raise WatchlistCsvError(f"{source} line {reader.line_num}: more than "
                                    f"{max_rows:,} rows")
        batch.rows.append((reader.line_num, *row))
        if len(batch.rows) >= batch_size:
            yield batch.take()
    batch.errors.extend(undecodable)
    if batch.rows or batch.errors:
        yield batch.take()
