"""Streaming readers for the text formats the catalogues ship in.

Each reader yields ``(line_number, values)`` for one data row at a time, so a file of
any size is read in bounded memory; every problem raises
:class:`~catalogs.model.CatalogueFormatError` naming the file, the 1-based line and the
field. :func:`batch_rows` groups per-row tuples into :class:`CatalogueRows` batches.
"""
from __future__ import annotations

import csv
import gzip
import io
import math
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TextIO

from catalogs.model import CatalogueFormatError, CatalogueRows, rows_from_columns

MISSING = frozenset({"", "null", "none", "nan", "--", "-inf", "inf"})
"""Cell texts (lower-cased, stripped) read as a missing number."""

_SEXAGESIMAL = re.compile(r"^\s*([+-]?)\s*(\d+(?:\.\d*)?)\D+?(\d+(?:\.\d*)?)"
                          r"(?:\D+?(\d+(?:\.\d*)?))?\D*$")


def open_text(path: Path) -> TextIO:
    """Open a text file for reading: plain, ``.gz`` or a single-member ``.zip``."""
    path = Path(path)
    try:
        if path.suffix == ".gz":
            return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
        if path.suffix == ".zip":
            archive = zipfile.ZipFile(path)
            names = [n for n in archive.namelist() if not n.endswith("/")]
            if len(names) != 1:
                raise CatalogueFormatError(path, f"zip must hold one file, not {len(names)}")
            return io.TextIOWrapper(archive.open(names[0]), encoding="utf-8", newline="")
        return open(path, encoding="utf-8", newline="")
    except (OSError, zipfile.BadZipFile) as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise CatalogueFormatError(path, f"cannot open: {err}") from err


def parse_float(text: str | None, path: Path, line: int | None, field: str,
                required: bool = False) -> float:
    """``text`` as a float; missing or non-finite values (see :data:`MISSING`) give
    ``nan`` unless ``required``. A trailing ``?`` or ``:`` (uncertain value) is ignored."""
    try:
        value = float(text)  # the common case, fast
    except (TypeError, ValueError):
        value = _parse_unusual_float(text, path, line, field)
    if not math.isfinite(value):
        if required:
            raise CatalogueFormatError(path, f"value is missing or not finite: {text!r}",
                                       line, field)
        return math.nan
    return value


def _parse_unusual_float(text: str | None, path: Path, line: int | None, field: str) -> float:
    cleaned = (text or "").strip().rstrip("?:").strip()
    if cleaned.lower() in MISSING:
        return math.nan
    try:
        return float(cleaned)
    except ValueError:
        raise CatalogueFormatError(path, f"not a number: {text!r}", line, field) from None


def parse_position(ra_text: str, dec_text: str, path: Path, line: int,
                   fields: tuple[str, str] = ("ra", "dec")) -> tuple[float, float]:
    """Decimal-degree ``ra``, ``dec`` checked to lie in [0, 360] and [-90, 90]."""
    ra = parse_float(ra_text, path, line, fields[0], required=True)
    dec = parse_float(dec_text, path, line, fields[1], required=True)
    return check_position(ra, dec, path, line, fields)


def check_position(ra: float, dec: float, path: Path, line: int,
                   fields: tuple[str, str] = ("ra", "dec")) -> tuple[float, float]:
    """``ra`` (deg, wrapped into [0, 360)) and ``dec`` (deg), or an error if out of range."""
    if not 0.0 <= ra <= 360.0:
        raise CatalogueFormatError(path, f"right ascension {ra} deg outside [0, 360]",
                                   line, fields[0])
    if not -90.0 <= dec <= 90.0:
        raise CatalogueFormatError(path, f"declination {dec} deg outside [-90, 90]",
                                   line, fields[1])
    return ra % 360.0, dec


def parse_sexagesimal(text: str, hours: bool, path: Path, line: int, field: str) -> float:
    """Degrees from ``"hh mm ss.s"`` / ``"00h 05m 09.9s"`` (``hours``) or
    ``"+dd mm ss"`` / ``"+45° 13′ 45″"`` (seconds optional)."""
    match = _SEXAGESIMAL.match(text or "")
    if match is None:
        raise CatalogueFormatError(path, f"not a sexagesimal angle: {text!r}", line, field)
    sign, a, b, c = match.groups()
    minutes, seconds = float(b), float(c or 0.0)
    if minutes >= 60.0 or seconds >= 60.0:
        raise CatalogueFormatError(path, f"minutes/seconds >= 60 in {text!r}", line, field)
    value = float(a) + minutes / 60.0 + seconds / 3600.0
    return (-1.0 if sign == "-" else 1.0) * value * (15.0 if hours else 1.0)


def iter_csv(path: Path, required: Sequence[str], skip_lines: int = 0,
             **csv_options) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows of a CSV file with a header line (after ``skip_lines`` preamble lines) as
    ``(line, {column: text})``; column names are stripped; ``required`` columns must
    exist and every row must have as many cells as the header."""
    with open_text(path) as handle:
        for _ in range(skip_lines):
            handle.readline()
        reader = csv.reader(handle, **csv_options)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise CatalogueFormatError(path, "file is empty (no header line)") from None
        except csv.Error as err:
            raise CatalogueFormatError(path, f"bad header: {err}", skip_lines + 1) from None
        missing = [c for c in required if c not in header]
        if missing:
            raise CatalogueFormatError(path, f"header lacks columns {missing}",
                                       skip_lines + 1)
        yield from _csv_body(path, reader, header, skip_lines)


def _csv_body(path: Path, reader, header: list[str],
              skip_lines: int) -> Iterator[tuple[int, dict[str, str]]]:
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise CatalogueFormatError(path, f"bad CSV: {err}",
                                       reader.line_num + skip_lines) from None
        line = reader.line_num + skip_lines
        if not cells:
            continue
        if len(cells) != len(header):
            raise CatalogueFormatError(
                path, f"{len(cells)} cells where the header has {len(header)}", line)
        yield line, dict(zip(header, cells))


def iter_lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(line, text)`` of every non-blank line, line endings (``\\n``/``\\r\\n``) removed."""
    with open_text(path) as handle:
        for number, text in enumerate(handle, start=1):
            text = text.rstrip("\r\n")
            if text.strip():
                yield number, text


def iter_vizier_tsv(path: Path, required: Sequence[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows of a VizieR ``|``-separated (or tab-separated) download: ``#`` comments, a
    header line, a units line, a dashes line, then data until a blank line."""
    header: list[str] | None = None
    sep = "|"
    skip = 0
    with open_text(path) as handle:
        for number, raw in enumerate(handle, start=1):
            text = raw.rstrip("\r\n")
            if header is None:
                if text.startswith("#") or not text.strip():
                    continue
                sep = "|" if "|" in text else "\t"
                header = [h.strip() for h in text.split(sep)]
                missing = [c for c in required if c not in header]
                if missing:
                    raise CatalogueFormatError(path, f"header lacks columns {missing}",
                                               number)
                skip = 2  # units and dashes lines
                continue
            if skip:
                skip -= 1
                continue
            if not text.strip() or text.startswith("#"):
                break
            cells = [c.strip() for c in text.split(sep)]
            if len(cells) != len(header):
                raise CatalogueFormatError(
                    path, f"{len(cells)} cells where the header has {len(header)}", number)
            yield number, dict(zip(header, cells))
    if header is None:
        raise CatalogueFormatError(path, "no header line found")


def chunked(items: Iterable, size: int) -> Iterator[list]:
    """Consecutive lists of at most ``size`` items."""
    if size < 1:
        raise ValueError(f"batch size must be >= 1, not {size}")
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def batch_rows(fields: tuple[str, ...], rows: Iterable[tuple],
               batch_size: int) -> Iterator[CatalogueRows]:
    """Group per-row tuples (values in the order of ``fields``) into batches of at
    most ``batch_size`` rows."""
    for chunk in chunked(rows, batch_size):
        yield _to_rows(fields, chunk)


def _to_rows(fields: tuple[str, ...], buffer: list[tuple]) -> CatalogueRows:
    columns = dict(zip(fields, zip(*buffer)))
    return rows_from_columns(columns, len(buffer))
