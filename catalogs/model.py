"""Types shared by the catalogue loaders, the sky index and the classifier.

Every loader maps its native columns to :class:`CatalogueRows`: one numpy array per
normalised field, positions in degrees (ICRS, J2000), sizes in arcsec, distances in Mpc.
A missing value is ``nan`` (floats) or ``""`` (strings).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import NamedTuple

import numpy as np


class Role(IntEnum):
    """What a catalogued source tells the classifier about a transient near it."""

    NONE = 0
    """Not used for classification (duplicates, clusters, nebulae, historical SNe, ...)."""
    STAR = 1
    """A point-like star: a transient on it is a variable star (VS)."""
    BRIGHT_STAR = 2
    """A bright star: VS on it, BS inside its magnitude-dependent radius."""
    VARIABLE_STAR = 3
    """A catalogued variable star (VS)."""
    CV = 4
    """A cataclysmic variable or nova (CV)."""
    YSO = 5
    """A young stellar object, variable by nature (VS)."""
    AGN = 6
    """An AGN, QSO or blazar (AGN)."""
    GAMMA = 7
    """A gamma-ray source with an error ellipse: a weak AGN association."""
    GALAXY = 8
    """A resolved galaxy: NT at its core, SN inside its association radius."""


class Provenance(NamedTuple):
    """Where a catalogue comes from."""

    source: str
    """Authors / survey and the reference."""
    licence: str
    """Licence or terms of use of the data."""
    url: str
    """Where a deployment gets the full file (URL or PyPI package)."""


@dataclass(frozen=True, eq=False)
class CatalogueRows:
    """A batch of normalised catalogue rows (equal-length arrays); ``len()`` is the
    number of rows."""

    id: np.ndarray
    """Object id or name (str); the catalogue's own designation where it has one."""
    ra: np.ndarray
    """Right ascension, deg (float64, J2000/ICRS)."""
    dec: np.ndarray
    """Declination, deg (float64)."""
    type: np.ndarray
    """Catalogue object type as the catalogue writes it (str)."""
    mag: np.ndarray
    """Magnitude, mag (float64)."""
    mag_filter: np.ndarray
    """Band of ``mag`` (str)."""
    mag_err: np.ndarray
    """Uncertainty of ``mag``, mag (float64)."""
    z: np.ndarray
    """Spectroscopic redshift (float64)."""
    photo_z: np.ndarray
    """Photometric redshift (float64)."""
    photo_z_err: np.ndarray
    """Uncertainty of ``photo_z`` (float64)."""
    distance: np.ndarray
    """Distance, Mpc (float64): the direct one where ``direct`` is true."""
    direct: np.ndarray
    """True where ``distance`` is redshift-independent (bool)."""
    major_axis: np.ndarray
    """Major axis (full length), arcsec (float64): galaxy size or error-ellipse axis."""
    minor_axis: np.ndarray
    """Minor axis (full length), arcsec (float64)."""
    position_angle: np.ndarray
    """Position angle of the major axis, deg east of north (float64)."""
    role: np.ndarray
    """:class:`Role` of each row (int8)."""

    def __len__(self) -> int:
        return len(self.ra)

    def replace(self, **changes: np.ndarray) -> CatalogueRows:
        """A copy with the given fields replaced."""
        return dataclasses.replace(self, **changes)


ROW_FIELDS = tuple(f.name for f in dataclasses.fields(CatalogueRows))
"""Field names of :class:`CatalogueRows`, in order."""
FLOAT_FIELDS = ("ra", "dec", "mag", "mag_err", "z", "photo_z", "photo_z_err", "distance",
                "major_axis", "minor_axis", "position_angle")
STRING_FIELDS = ("id", "type", "mag_filter")


def empty_rows() -> CatalogueRows:
    """A batch with no rows."""
    return rows_from_columns({}, 0)


def rows_from_columns(columns: dict[str, object], n: int) -> CatalogueRows:
    """Build :class:`CatalogueRows` of ``n`` rows from the given columns (lists or
    arrays); absent fields are filled with ``nan``, ``""``, ``False`` or ``Role.NONE``."""
    unknown = set(columns) - set(ROW_FIELDS)
    if unknown:
        raise KeyError(f"unknown catalogue fields {sorted(unknown)}")
    out: dict[str, np.ndarray] = {}
    for name in ROW_FIELDS:
        value = columns.get(name)
        if name in FLOAT_FIELDS:
            arr = np.full(n, np.nan) if value is None else np.asarray(value, dtype=np.float64)
        elif name in STRING_FIELDS:
            arr = np.full(n, "", dtype=object) if value is None else _object_array(value)
        elif name == "direct":
            arr = np.zeros(n, bool) if value is None else np.asarray(value, dtype=bool)
        else:
            arr = (np.zeros(n, np.int8) if value is None
                   else np.asarray(value, dtype=np.int8))
        if arr.shape != (n,):
            raise ValueError(f"field {name} has shape {arr.shape}, expected ({n},)")
        out[name] = arr
    return CatalogueRows(**out)


def _object_array(value) -> np.ndarray:
    arr = np.empty(len(value), dtype=object)
    arr[:] = list(value)
    return arr


def concatenate_rows(batches: list[CatalogueRows]) -> CatalogueRows:
    """One batch holding every row of ``batches`` in order."""
    if not batches:
        return empty_rows()
    return CatalogueRows(*(np.concatenate([getattr(b, f) for b in batches])
                           for f in ROW_FIELDS))


class CatalogueFormatError(ValueError):
    """A catalogue file (or one of its rows) that cannot be read.

    ``path`` is the file, ``line`` the 1-based line (or row) number when known and
    ``field`` the column at fault when known.
    """

    def __init__(self, path: Path | str, problem: str, line: int | None = None,
                 field: str | None = None):
        self.path, self.line, self.field, self.problem = Path(path), line, field, problem
        where = str(Path(path).name) + (f" line {line}" if line is not None else "")
        what = f"field {field!r}: " if field else ""
        super().__init__(f"{where}: {what}{problem}")
