"""One streaming reader per catalogue format, mapping native columns to
:class:`~catalogs.model.CatalogueRows`.

Every reader has the signature ``read_x(path, batch_size) -> Iterator[CatalogueRows]``,
reads the file in its original format a row (or a FITS slice) at a time and yields
batches of at most ``batch_size`` rows, so memory stays bounded whatever the file size.
A malformed row raises :class:`~catalogs.model.CatalogueFormatError` with the file name,
line (or row) number and field. Column names and units are those of the real files
(see ``data/SOURCES.md`` and the catalogues' ReadMe files).
"""
from __future__ import annotations

import json
import math
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from catalogs.model import CatalogueFormatError, CatalogueRows, Role, rows_from_columns
from catalogs.parsers import (batch_rows, check_position, chunked, iter_csv, iter_lines,
                              iter_vizier_tsv, open_text, parse_float, parse_position,
                              parse_sexagesimal)

BRIGHT_STAR_LIMIT = 13.0
"""Stars brighter than this (mag) get the bright-star (BS) role, fainter ones STAR."""

ARCSEC_PER_RAD = 180.0 / math.pi * 3600.0

# ----------------------------------------------------------------------- OpenNGC

_ONGC_ROLES = {"G": Role.GALAXY, "*": Role.STAR, "Nova": Role.CV}


def read_openngc(path: Path, batch_size: int) -> Iterator[CatalogueRows]:
    """OpenNGC (``ongc.db`` of PyPI ``pyongc``): table ``objects``, ra/dec in radians,
    ``majax``/``minax`` in arcmin, ``pa`` deg, B/V mags, ``redshift``. Galaxies (type
    ``G``) are GALAXY, stars ``*`` STAR, novae CV; pairs, groups, clusters, nebulae,
    duplicates and rows without a position are not used (Role.NONE)."""
    if not Path(path).is_file():
        raise FileNotFoundError(path)
    fields = ("id", "ra", "dec", "type", "mag", "mag_filter", "z", "major_axis",
              "minor_axis", "position_angle", "role")
    query = ("SELECT id, name, type, ra, dec, majax, minax, pa, bmag, vmag, redshift "
             "FROM objects ORDER BY id")
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        try:
            cursor = db.execute(query)
        except sqlite3.DatabaseError as err:
            raise CatalogueFormatError(path, f"not an OpenNGC database: {err}") from None
        while chunk := cursor.fetchmany(batch_size):
            yield from batch_rows(fields, (_openngc_row(path, r) for r in chunk), batch_size)


def _openngc_row(path: Path, row: tuple) -> tuple:
    rowid, name, kind, ra, dec, majax, minax, pa, bmag, vmag, z = row
    role = _ONGC_ROLES.get(kind, Role.NONE)
    if ra is None or dec is None:
        ra_deg = dec_deg = math.nan
        role = Role.NONE
    else:
        ra_deg, dec_deg = check_position(math.degrees(ra), math.degrees(dec), path, rowid)
    mag, band = (bmag, "B") if bmag is not None else (vmag, "V" if vmag is not None else "")
    return (name, ra_deg, dec_deg, kind, _num(mag), band, _num(z),
            _num(majax) * 60.0, _num(minax) * 60.0, _num(pa), role)


def _num(value) -> float:
    return math.nan if value is None else float(value)


# --------------------------------------------------------------------- Hipparcos-2

HIPPARCOS_EPOCH = 1991.25
"""Epoch (Julian years) of the Hipparcos-2 positions."""


def read_hipparcos2(path: Path, batch_size: int,
                    epoch: float = 2020.0) -> Iterator[CatalogueRows]:
    """Hipparcos-2 (ESA I/311 ``hip2.dat``, fixed width): HIP (bytes 1-6), RArad and
    DErad (16-28, 30-42, radians, epoch 1991.25), pmRA*cos(dec) and pmDE (52-59, 61-68,
    mas/yr), Hpmag and e_Hpmag (130-136, 138-143). Positions are moved by their proper
    motion to ``epoch`` (Julian years). Stars brighter than :data:`BRIGHT_STAR_LIMIT`
    are BRIGHT_STAR, the others STAR."""
    for chunk in chunked(iter_lines(path), batch_size):
        hip, ra, dec, pmra, pmde, hp, e_hp = _hipparcos_columns(path, chunk)
        ra, dec = propagate_proper_motion(ra, dec, pmra, pmde, epoch - HIPPARCOS_EPOCH)
        n = len(chunk)
        yield rows_from_columns({
            "id": [f"HIP {h}" for h in hip.tolist()], "ra": ra, "dec": dec,
            "type": np.full(n, "star", object), "mag": hp,
            "mag_filter": np.full(n, "Hp", object), "mag_err": e_hp,
            "role": np.where(hp <= BRIGHT_STAR_LIMIT, Role.BRIGHT_STAR, Role.STAR),
        }, n)


# 0-based slices of hip2.dat: HIP, RArad, DErad, pmRA, pmDE, Hpmag, e_Hpmag
_HIP_SLICES = ((0, 6), (15, 28), (29, 42), (51, 59), (60, 68), (129, 136), (137, 143))


def _hipparcos_columns(path: Path, chunk: list[tuple[int, str]]) -> list[np.ndarray]:
    """HIP (int64), ra, dec (deg), pmRA*cos(dec), pmDE (mas/yr), Hpmag, e_Hpmag of a
    chunk of ``(line, text)``, vectorised; a chunk with anything doubtful goes through
    the row-by-row parser instead, which names the bad line and field."""
    cols = _hipparcos_fast(chunk)
    if cols is None:
        rows = [_hipparcos_row(path, line, text) for line, text in chunk]
        return [np.array(c) for c in zip(*rows)]
    hip, ra, dec, *rest = cols
    return [hip.astype(np.int64), np.degrees(ra) % 360.0, np.degrees(dec), *rest]


def _hipparcos_fast(chunk: list[tuple[int, str]]) -> list[np.ndarray] | None:
    if min(len(text) for _, text in chunk) < 143:
        return None
    try:
        cols = [np.array([t[a:b] for _, t in chunk], dtype=np.float64) for a, b in _HIP_SLICES]
    except ValueError:
        return None
    hip, ra, dec = cols[:3]
    plausible = (np.isfinite(np.stack(cols)).all() and (hip == np.round(hip)).all()
                 and ((ra >= 0) & (ra <= 2 * np.pi)).all() and (np.abs(dec) <= np.pi / 2).all())
    return cols if plausible else None


def _hipparcos_row(path: Path, line: int, text: str) -> tuple:
    if len(text) < 143:
        raise CatalogueFormatError(path, f"line has {len(text)} characters, expected 276",
                                   line)
    hip = text[0:6].strip()
    if not hip.isdigit():
        raise CatalogueFormatError(path, f"HIP number {hip!r} is not an integer", line, "HIP")
    ra = math.degrees(parse_float(text[15:28], path, line, "RArad", required=True))
    dec = math.degrees(parse_float(text[29:42], path, line, "DErad", required=True))
    ra, dec = check_position(ra, dec, path, line, ("RArad", "DErad"))
    pmra = parse_float(text[51:59], path, line, "pmRA", required=True)
    pmde = parse_float(text[60:68], path, line, "pmDE", required=True)
    hp = parse_float(text[129:136], path, line, "Hpmag", required=True)
    e_hp = parse_float(text[137:143], path, line, "e_Hpmag")
    return (int(hip), ra, dec, pmra, pmde, hp, e_hp)


def propagate_proper_motion(ra: np.ndarray, dec: np.ndarray, pmra_cosdec: np.ndarray,
                            pmdec: np.ndarray, years: float) -> tuple[np.ndarray, np.ndarray]:
    """Positions (deg) moved by proper motions (mas/yr; RA component times cos dec)
    over ``years`` along the local east/north directions, pole-safe (unit vectors)."""
    a, d = np.radians(ra), np.radians(dec)
    position = np.stack([np.cos(d) * np.cos(a), np.cos(d) * np.sin(a), np.sin(d)])
    east = np.stack([-np.sin(a), np.cos(a), np.zeros_like(a)])
    north = np.stack([-np.sin(d) * np.cos(a), -np.sin(d) * np.sin(a), np.cos(d)])
    scale = years / (1000.0 * ARCSEC_PER_RAD)  # mas -> rad
    moved = position + scale * (pmra_cosdec * east + pmdec * north)
    moved /= np.linalg.norm(moved, axis=0)
    new_ra = np.degrees(np.arctan2(moved[1], moved[0])) % 360.0
    new_dec = np.degrees(np.arcsin(np.clip(moved[2], -1.0, 1.0)))
    return new_ra, new_dec


# ------------------------------------------------------------------------ GCVS

CV_CLASSES = frozenset({"UG", "UGSU", "UGSS", "UGZ", "UGWZ", "UGER", "NL", "AM", "DQ",
                        "IP", "N", "NA", "NB", "NC", "NR", "CV", "ZAND"})
"""GCVS variability classes of the cataclysmic (explosive and nova-like) group."""
AGN_CLASSES = frozenset({"BLLAC", "QSO", "GAL"})
"""GCVS classes of active galactic nuclei."""
SN_CLASSES = frozenset({"SN", "SNI", "SNII"})
"""GCVS historical supernovae (not used: they are not stars)."""


def gcvs_role(var_type: str) -> Role:
    """:class:`Role` of a GCVS ``VarType``: CV if any component (split on ``+`` and
    ``/``, ``:`` and ``(..)`` qualifiers removed) is a cataclysmic class, AGN for
    BLLAC/QSO/GAL, NONE for supernovae, else VARIABLE_STAR."""
    parts = {p.split("(")[0].strip(" :") for p in var_type.replace("/", "+").split("+")}
    if parts & CV_CLASSES:
        return Role.CV
    if parts & AGN_CLASSES:
        return Role.AGN
    if parts & SN_CLASSES:
        return Role.NONE
    return Role.VARIABLE_STAR


def read_gcvs(path: Path, batch_size: int) -> Iterator[CatalogueRows]:
    """GCVS (fink-science ``gcvs.csv.gz``): columns ``ra``, ``dec`` (deg), ``VarType``.
    The file has no designations: the id is the 1-based data row number."""
    def rows():
        for n, (line, cells) in enumerate(iter_csv(path, ("ra", "dec", "VarType")), 1):
            ra, dec = parse_position(cells["ra"], cells["dec"], path, line)
            var_type = cells["VarType"].strip()
            yield str(n), ra, dec, var_type, gcvs_role(var_type)
    return batch_rows(("id", "ra", "dec", "type", "role"), rows(), batch_size)


# ----------------------------------------------------------------------- SPICY

def read_spicy(path: Path, batch_size: int) -> Iterator[CatalogueRows]:
    """SPICY young stellar objects (fink-science ``spicy.csv.gz``): ``RAdeg``,
    ``DEdeg``, ``class``; id = 1-based data row number. All rows are YSO."""
    def rows():
        for n, (line, cells) in enumerate(iter_csv(path, ("RAdeg", "DEdeg", "class")), 1):
            ra, dec = parse_position(cells["RAdeg"], cells["DEdeg"], path, line,
                                     ("RAdeg", "DEdeg"))
            yield str(n), ra, dec, cells["class"].strip(), Role.YSO
    return batch_rows(("id", "ra", "dec", "type", "role"), rows(), batch_size)


# ------------------------------------------------------------------- Fermi 4LAC

def read_4lac(path: Path, batch_size: int) -> Iterator[CatalogueRows]:
    """Fermi 4LAC-DR3 FITS table (HDU 1): counterpart position ``RA_Counterpart``,
    ``DEC_Counterpart`` (deg; the gamma-ray ``RAJ2000``/``DEJ2000`` where absent),
    name ``ASSOC1`` (else ``Source_Name``), ``CLASS`` and ``Redshift`` (non-finite =
    unknown). Read in slices of ``batch_size`` rows from a memory map."""
    from astropy.io import fits

    try:
        hdul = fits.open(path, memmap=True)
    except OSError as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise CatalogueFormatError(path, f"not a FITS file: {err}") from None
    with hdul:
        if len(hdul) < 2 or not hasattr(hdul[1], "columns"):
            raise CatalogueFormatError(path, "no binary table in HDU 1")
        data = hdul[1].data
        names = set(hdul[1].columns.names)
        needed = {"Source_Name", "RAJ2000", "DEJ2000", "CLASS", "ASSOC1",
                  "RA_Counterpart", "DEC_Counterpart", "Redshift"}
        if needed - names:
            raise CatalogueFormatError(path, f"table lacks columns {sorted(needed - names)}")
        for start in range(0, len(data), batch_size):
            yield _4lac_slice(path, data[start:start + batch_size], start)


def _4lac_slice(path: Path, chunk, start: int) -> CatalogueRows:
    ra = np.asarray(chunk["RA_Counterpart"], dtype=np.float64)
    dec = np.asarray(chunk["DEC_Counterpart"], dtype=np.float64)
    fallback = ~(np.isfinite(ra) & np.isfinite(dec))
    ra = np.where(fallback, np.asarray(chunk["RAJ2000"], np.float64), ra)
    dec = np.where(fallback, np.asarray(chunk["DEJ2000"], np.float64), dec)
    bad = ~((ra >= 0) & (ra <= 360) & (dec >= -90) & (dec <= 90))
    if bad.any():
        row = start + int(np.argmax(bad)) + 1
        raise CatalogueFormatError(path, f"row {row}: position ({ra[bad][0]}, "
                                   f"{dec[bad][0]}) deg out of range", field="RA_Counterpart")
    assoc = [a.strip() for a in chunk["ASSOC1"]]
    ids = [a or s.strip() for a, s in zip(assoc, chunk["Source_Name"])]
    z = np.asarray(chunk["Redshift"], dtype=np.float64)
    n = len(ra)
    return rows_from_columns({
        "id": ids, "ra": ra % 360.0, "dec": dec, "type": [c.strip() for c in chunk["CLASS"]],
        "z": np.where(np.isfinite(z) & (z > 0), z, np.nan),
        "role": np.full(n, Role.AGN)}, n)


# ------------------------------------------------------------------------ 3HSP

def read_3hsp(path: Path, batch_size: int) -> Iterator[CatalogueRows]:
    """3HSP extreme blazars (``3hsp.csv``, `` , ``-separated, quoted): name
    ``3HSP Source name``, ``R.A.`` and ``Dec`` sexagesimal (J2000). All rows AGN."""
    required = ("3HSP Source name", "R.A.", "Dec")

    def rows():
        for line, cells in iter_csv(path, required, skipinitialspace=True):
            ra = parse_sexagesimal(cells["R.A."], True, path, line, "R.A.")
            dec = parse_sexagesimal(cells["Dec"], False, path, line, "Dec")
            ra, dec = check_position(ra, dec, path, line, ("R.A.", "Dec"))
            yield cells["3HSP Source name"].strip(), ra, dec, "HSP blazar", Role.AGN
    return batch_rows(("id", "ra", "dec", "type", "role"), rows(), batch_size)


# ------------------------------------------------------------------------ 4FGL

def read_4fgl(path: Path, batch_size: int) -> Iterator[CatalogueRows]:
    """Fermi 4FGL point sources (``gll_psc_v27.csv``): ``name``, ``ra``, ``dec`` (deg)
    and the 95% error ellipse ``amaj``, ``amin`` (semi-axes, deg), ``phi`` (deg).
    Sources with an ellipse are GAMMA; the ellipse is kept as full axes in arcsec."""
    required = ("name", "ra", "dec", "amaj", "amin", "phi")

    def rows():
        for line, cells in iter_csv(path, required):
            ra, dec = parse_position(cells["ra"], cells["dec"], path, line)
            amaj = parse_float(cells["amaj"], path, line, "amaj")
            amin = parse_float(cells["amin"], path, line, "amin")
            phi = parse_float(cells["phi"], path, line, "phi")
            good = amaj > 0 and amin > 0 and math.isfinite(phi)
            yield (cells["name"].strip(), ra, dec, "gamma-ray source",
                   2 * amaj * 3600.0, 2 * amin * 3600.0, phi,
                   Role.GAMMA if good else Role.NONE)
    fields = ("id", "ra", "dec", "type", "major_axis", "minor_axis", "position_angle",
              "role")
    return batch_rows(fields, rows(), batch_size)


# -------------------------------------------------------------- Yale Bright Star

def read_yale_bsc(path: Path, batch_size: int) -> Iterator[CatalogueRows]:
    """Yale Bright Star Catalogue 5 (``yale-bsc5-short.json``): a JSON array written
    one object per line with ``HR``, ``RA`` ("00h 05m 09.9s"), ``Dec`` ("+45° 13′ 45″"),
    ``V`` and optional proper name ``N``. All rows BRIGHT_STAR."""
    def rows():
        for line, text in iter_lines(path):
            text = text.strip().rstrip(",")
            if text in ("[", "]", "[]"):
                continue
            try:
                item = json.loads(text)
            except json.JSONDecodeError as err:
                raise CatalogueFormatError(path, f"not a JSON object: {err.msg}",
                                           line) from None
            if not isinstance(item, dict) or not {"HR", "RA", "Dec"} <= item.keys():
                raise CatalogueFormatError(path, "object lacks HR, RA or Dec", line)
            ra = parse_sexagesimal(item["RA"], True, path, line, "RA")
            dec = parse_sexagesimal(item["Dec"], False, path, line, "Dec")
            ra, dec = check_position(ra, dec, path, line, ("RA", "Dec"))
            mag = parse_float(item.get("V"), path, line, "V")
            yield (f"HR {item['HR']}", ra, dec, "star", mag, "V", Role.BRIGHT_STAR)
    fields = ("id", "ra", "dec", "type", "mag", "mag_filter", "role")
    return batch_rows(fields, rows(), batch_size)


# ------------------------------------------------------------------- Milliquas

# 0-based slices of the Milliquas fixed-width text format.
_MQ = {"ra": (0, 11), "dec": (12, 23), "name": (25, 50), "type": (51, 55),
       "rmag": (55, 60), "bmag": (60, 65), "z": (74, 80)}


def read_milliquas(path: Path, batch_size: int) -> Iterator[CatalogueRows]:
    """Million Quasars catalogue (``milliquas.txt`` fixed width): RA, Dec (deg), Name,
    Type (Q, A, B, K, N, q, R, X, 2 ...), Rmag, Bmag, z. A lower-case ``q`` (photometric
    quasar candidate) carries a photometric redshift. All rows AGN."""
    def rows():
        for line, text in iter_lines(path):
            if len(text) < _MQ["z"][1]:
                raise CatalogueFormatError(path, f"line has {len(text)} characters; "
                                           f"fixed-width columns need {_MQ['z'][1]}", line)
            cut = {k: text[a:b] for k, (a, b) in _MQ.items()}
            ra, dec = parse_position(cut["ra"], cut["dec"], path, line)
            rmag = parse_float(cut["rmag"], path, line, "Rmag")
            bmag = parse_float(cut["bmag"], path, line, "Bmag")
            z = parse_float(cut["z"], path, line, "z")
            kind = cut["type"].strip()
            mag, band = (rmag, "R") if not math.isnan(rmag) else (bmag, "B")
            photometric = "q" in kind
            yield (cut["name"].strip(), ra, dec, kind, mag, band if not math.isnan(mag) else "",
                   math.nan if photometric else z, z if photometric else math.nan, Role.AGN)
    fields = ("id", "ra", "dec", "type", "mag", "mag_filter", "z", "photo_z", "role")
    return batch_rows(fields, rows(), batch_size)


# ---------------------------------------------------------------- Veron-Cetty

_VERON_BANDS = {"*": "pg", "O": "O", "B": "B", "V": "V", "R": "R", "I": "I", "": "V"}


def read_veron(path: Path, batch_size: int) -> Iterator[CatalogueRows]:
    """Veron-Cetty & Veron (VII/258) VizieR TSV: ``_RAJ2000``, ``_DEJ2000`` (deg),
    ``Cl`` (Q, A, B), ``Name``, ``z``, ``Vmag`` with band flag ``n_Vmag``. All AGN."""
    required = ("_RAJ2000", "_DEJ2000", "Cl", "Name", "z", "Vmag")

    def rows():
        for line, cells in iter_vizier_tsv(path, required):
            ra, dec = parse_position(cells["_RAJ2000"], cells["_DEJ2000"], path, line,
                                     ("_RAJ2000", "_DEJ2000"))
            mag = parse_float(cells["Vmag"], path, line, "Vmag")
            band = _VERON_BANDS.get(cells.get("n_Vmag", ""), cells.get("n_Vmag", ""))
            yield (cells["Name"], ra, dec, cells["Cl"], mag,
                   band if not math.isnan(mag) else "",
                   parse_float(cells["z"], path, line, "z"), Role.AGN)
    fields = ("id", "ra", "dec", "type", "mag", "mag_filter", "z", "role")
    return batch_rows(fields, rows(), batch_size)


# ---------------------------------------------------------------------- NED-D

def read_ned_d(path: Path, batch_size: int) -> Iterator[CatalogueRows]:
    """NED-D redshift-independent distances (CSV after a preamble whose first row is
    ``"Header Lines",N``): one row per measurement, ``Galaxy ID``, ``D (Mpc)``,
    ``Method``, ``redshift (z)``. NED-D has no positions: rows are Role.NONE and
    serve as direct distances for named galaxies (see :func:`median_direct_distances`)."""
    required = ("Galaxy ID", "D (Mpc)", "Method")

    def rows():
        for line, cells in iter_csv(path, required, skip_lines=_ned_preamble(path)):
            name = cells["Galaxy ID"].strip()
            if not name:
                raise CatalogueFormatError(path, "galaxy id is empty", line, "Galaxy ID")
            dist = parse_float(cells["D (Mpc)"], path, line, "D (Mpc)", required=True)
            if dist <= 0:
                raise CatalogueFormatError(path, f"distance {dist} Mpc is not positive",
                                           line, "D (Mpc)")
            z = parse_float(cells.get("redshift (z)"), path, line, "redshift (z)")
            excluded = cells.get("Exclusion Code", "").strip()
            yield (name, cells["Method"].strip() + (f" [{excluded}]" if excluded else ""),
                   dist, True, z)
    return batch_rows(("id", "type", "distance", "direct", "z"), rows(), batch_size)


def _ned_preamble(path: Path) -> int:
    with open_text(path) as handle:
        first = handle.readline()
    cells = [c.strip().strip('"') for c in first.split(",")]
    if len(cells) >= 2 and cells[0] == "Header Lines":
        try:
            return int(cells[1]) - 1  # the count includes the column-name line
        except ValueError:
            raise CatalogueFormatError(path, f"bad header line count {cells[1]!r}", 1,
                                       "Header Lines") from None
    return 0


_DESIGNATION = re.compile(r"^([A-Z]+)0*(\d.*)$")


def median_direct_distances(rows: CatalogueRows) -> dict[str, float]:
    """Median direct distance (Mpc) per galaxy, keyed by :func:`normalise_name`.
    Measurements with an exclusion code (type ending ``[code]``) are used only for
    galaxies that have no other measurement."""
    kept: dict[str, list[float]] = {}
    flagged: dict[str, list[float]] = {}
    for name, kind, dist in zip(rows.id, rows.type, rows.distance):
        target = flagged if kind.endswith("]") else kept
        target.setdefault(normalise_name(name), []).append(float(dist))
    merged = {**{k: v for k, v in flagged.items() if k not in kept}, **kept}
    return {k: float(np.median(v)) for k, v in merged.items()}


def normalise_name(name: str) -> str:
    """Catalogue designation in a comparable form: upper case, no blanks, leading
    zeros of the number after a letter prefix dropped (``NGC 0224`` -> ``NGC224``)."""
    compact = "".join(name.upper().split())
    match = _DESIGNATION.match(compact)
    return match.group(1) + match.group(2) if match else compact


def with_direct_distances(rows: CatalogueRows, distances: dict[str, float]) -> CatalogueRows:
    """``rows`` with the direct distance of every GALAXY row whose normalised id has
    one in ``distances`` (rows that already have a direct distance keep it)."""
    if not distances or not len(rows):
        return rows
    found = np.array([distances.get(normalise_name(i), math.nan) for i in rows.id])
    use = np.isfinite(found) & (rows.role == Role.GALAXY) & ~rows.direct
    if not use.any():
        return rows
    return rows.replace(distance=np.where(use, found, rows.distance),
                         direct=rows.direct | use)


# ----------------------------------------------------------------------- GLADE+

_GLADE_NAMES = ("HyperLEDA name", "GWGC name", "2MASS name", "WISExSCOS name",
                "SDSS-DR16Q name")


def read_glade(path: Path, batch_size: int) -> Iterator[CatalogueRows]:
    """GLADE+ galaxies (CSV with the GLADE+ column names): ``RA``, ``DEC`` (deg),
    ``Object type flag`` (G galaxy, Q quasar), ``B``/``B_err``, ``z_helio``, ``z_cmb``,
    ``z_err``, ``d_L`` (Mpc), ``dist flag`` (0 none, 1 photometric z, 2 measured
    distance, 3 spectroscopic z). Id: the first of the HyperLEDA, GWGC, 2MASS,
    WISExSCOS and SDSS-DR16Q names, else ``GLADE+ <no>``. ``dist flag`` 2 gives a
    direct distance."""
    required = ("GLADE no", *_GLADE_NAMES, "Object type flag", "RA", "DEC", "B", "B_err",
                "z_helio", "z_cmb", "z_err", "d_L", "dist flag")

    def rows():
        for line, c in iter_csv(path, required):
            yield _glade_row(path, line, c)
    fields = ("id", "ra", "dec", "type", "mag", "mag_filter", "mag_err", "z", "photo_z",
              "photo_z_err", "distance", "direct", "role")
    return batch_rows(fields, rows(), batch_size)


def _glade_row(path: Path, line: int, c: dict[str, str]) -> tuple:
    ra, dec = parse_position(c["RA"], c["DEC"], path, line, ("RA", "DEC"))
    names = [c[k].strip() for k in _GLADE_NAMES if c[k].strip() not in ("", "null")]
    ident = names[0] if names else f"GLADE+ {c['GLADE no'].strip()}"
    flag = parse_float(c["dist flag"], path, line, "dist flag")
    kind = c["Object type flag"].strip()
    mag = parse_float(c["B"], path, line, "B")
    photometric = flag == 1
    z_helio = parse_float(c["z_helio"], path, line, "z_helio")
    z_cmb = parse_float(c["z_cmb"], path, line, "z_cmb")
    return (ident, ra, dec, kind, mag, "B" if not math.isnan(mag) else "",
            parse_float(c["B_err"], path, line, "B_err"),
            math.nan if photometric else z_helio,
            z_cmb if photometric else math.nan,
            parse_float(c["z_err"], path, line, "z_err") if photometric else math.nan,
            parse_float(c["d_L"], path, line, "d_L"), flag == 2,
            Role.AGN if kind == "Q" else Role.GALAXY)


# -------------------------------------------------------------------------- CLU

def read_clu(path: Path, batch_size: int) -> Iterator[CatalogueRows]:
    """CLU galaxies (``CLU_mini.csv``): ``name``, ``ra``, ``dec`` (deg), ``distmpc``
    (Mpc, not redshift-independent), ``a`` (major axis, deg), ``b2a``, ``pa`` (deg),
    ``magb`` (B). All rows GALAXY."""
    required = ("name", "ra", "dec", "distmpc", "a", "b2a", "pa", "magb")

    def rows():
        for line, c in iter_csv(path, required):
            ra, dec = parse_position(c["ra"], c["dec"], path, line)
            major = parse_float(c["a"], path, line, "a") * 3600.0
            mag = parse_float(c["magb"], path, line, "magb")
            yield (c["name"].strip(), ra, dec, "galaxy", mag,
                   "B" if not math.isnan(mag) else "",
                   parse_float(c["distmpc"], path, line, "distmpc"), major,
                   major * parse_float(c["b2a"], path, line, "b2a"),
                   parse_float(c["pa"], path, line, "pa"), Role.GALAXY)
    fields = ("id", "ra", "dec", "type", "mag", "mag_filter", "distance", "major_axis",
              "minor_axis", "position_angle", "role")
    return batch_rows(fields, rows(), batch_size)
