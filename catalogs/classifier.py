"""Sherlock-style contextual classification of transient positions against catalogues.

:func:`build_index` turns loaded catalogues into a :class:`SherlockIndex` (derived
distances, association radii and the sky index); :func:`classify_positions` classifies
arrays of positions at once into VS, CV, BS, AGN, NT, SN or ORPHAN (rules in
:mod:`catalogs.rules`) and reports, for the chosen match, every column of
``sherlock_classifications``.

Conventions: separations in arcsec from the catalogued source to the transient;
``northSeparationArcsec`` = sep x cos(PA) and ``eastSeparationArcsec`` = sep x sin(PA),
PA the position angle of the transient seen from the source (east of north), so both
are positive when the transient lies north / east of the source and, for small
offsets, east = (RA_t - RA_s) x cos(dec), north = dec_t - dec_s. Physical separations
(kpc) use the direct (redshift-independent) distance where known, else the angular
diameter distance of the redshift (or photometric redshift) in flat LambdaCDM with
H0 = 70, Omega_m = 0.3, else the catalogue's own distance (low-redshift
approximation). ``distance`` is the direct distance, else the catalogue's distance,
else the luminosity distance of the redshift.
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import numpy as np

from catalogs import rules
from catalogs.cosmology import angular_diameter_distance_mpc, luminosity_distance_mpc
from catalogs.index import ARCSEC_PER_RAD, SkyIndex
from catalogs.model import CatalogueRows, Role, concatenate_rows
from catalogs.rules import RULES_VERSION, SYNONYM_RADIUS_ARCSEC

ANNOTATOR = f"solas-sherlock {RULES_VERSION}"
"""Value of the ``annotator`` column."""


class SherlockResult(NamedTuple):
    """One ``sherlock_classifications`` row (without the object id); ``None`` = NULL."""

    classification: str
    association_type: str | None
    catalogue_table_name: str | None
    catalogue_object_id: str | None
    catalogue_object_type: str | None
    raDeg: float | None
    decDeg: float | None
    separationArcsec: float | None
    northSeparationArcsec: float | None
    eastSeparationArcsec: float | None
    physical_separation_kpc: float | None
    direct_distance: float | None
    distance: float | None
    z: float | None
    photoZ: float | None
    photoZErr: float | None
    Mag: float | None
    MagFilter: str | None
    MagErr: float | None
    classificationReliability: int | None
    major_axis_arcsec: float | None
    annotator: str
    description: str
    summary: str


class SherlockBatch(NamedTuple):
    """Results of :func:`classify_positions`, one per position, in input order."""

    results: list[SherlockResult]
    catalogue_version: str
    """:attr:`SherlockIndex.version` of the index used: cache results per object with
    it and recompute them when it changes."""


class InvalidPositionError(ValueError):
    """A position to classify that is not finite or is out of range."""


class SourceProperties(NamedTuple):
    """Per-source quantities derived once when the index is built."""

    distance_mpc: np.ndarray
    direct_distance_mpc: np.ndarray
    kpc_per_arcsec: np.ndarray
    association_radius_arcsec: np.ndarray
    search_radius_arcsec: np.ndarray


class SherlockIndex(NamedTuple):
    """Every loaded catalogue row, what the rules derive from it, and the sky index."""

    rows: CatalogueRows
    catalogue: np.ndarray
    """Index into :attr:`catalogue_names` of each row (int16)."""
    catalogue_names: tuple[str, ...]
    counts: dict[str, int]
    properties: SourceProperties
    sky: SkyIndex
    version: str


def catalogue_version(counts: Mapping[str, int]) -> str:
    """Hash of the rules version and the loaded catalogues' names and row counts."""
    text = ";".join([RULES_VERSION, *(f"{n}:{c}" for n, c in sorted(counts.items()))])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def build_index(catalogues: Mapping[str, CatalogueRows]) -> SherlockIndex:
    """A :class:`SherlockIndex` over ``catalogues`` (name -> rows, in tie-break order)."""
    names = tuple(catalogues)
    rows = concatenate_rows(list(catalogues.values()))
    sizes = [len(r) for r in catalogues.values()]
    props = source_properties(rows)
    return SherlockIndex(rows, np.repeat(np.arange(len(names), dtype=np.int16), sizes),
                         names, dict(zip(names, sizes)), props,
                         SkyIndex(rows.ra, rows.dec, props.search_radius_arcsec),
                         catalogue_version(dict(zip(names, sizes))))


def load_index(data_dir: Path, names=None) -> SherlockIndex:
    """Load the shipped catalogues (all, or ``names``) from ``data_dir`` and index them."""
    from catalogs.sources import load_catalogues
    return build_index(load_catalogues(data_dir, names))


_HAS_SYNONYM = rules.role_table({r: True for r in rules.SYNONYM_CLASS}, False, bool)
_SYNONYM_PRIORITY = rules.role_table(rules.SYNONYM_PRIORITY, 99, np.int64)
_SYNONYM_CLASS = rules.role_table(rules.SYNONYM_CLASS, "", object)
_ASSOCIATION_CLASS = rules.role_table(rules.ASSOCIATION_CLASS, "", object)


def source_properties(rows: CatalogueRows) -> SourceProperties:
    """Distances, physical scale and radii of every source (see :mod:`catalogs.rules`)."""
    z = np.where(np.isfinite(rows.z) & (rows.z > 0), rows.z, rows.photo_z)
    has_distance = np.isfinite(rows.distance) & (rows.distance > 0)
    direct = rows.direct & has_distance
    d_l, d_a = luminosity_distance_mpc(z), angular_diameter_distance_mpc(z)
    distance = np.where(has_distance, rows.distance, d_l)
    scale_mpc = np.where(direct, rows.distance,
                         np.where(np.isfinite(d_a), d_a,
                                  np.where(has_distance, rows.distance, np.nan)))
    kpc_per_arcsec = scale_mpc * 1000.0 / ARCSEC_PER_RAD
    radius = np.full(len(rows), np.nan)
    galaxy = rows.role == Role.GALAXY
    optical = np.isin(rows.mag_filter, list(rules.OPTICAL_FILTERS)) & np.isfinite(rows.mag)
    radius[galaxy] = rules.galaxy_radius_arcsec(
        rows.major_axis[galaxy], rows.mag[galaxy], optical[galaxy], distance[galaxy],
        kpc_per_arcsec[galaxy])
    bright = rows.role == Role.BRIGHT_STAR
    radius[bright] = rules.bright_star_radius_arcsec(rows.mag[bright])
    gamma = rows.role == Role.GAMMA
    radius[gamma] = rows.major_axis[gamma] / 2.0
    synonym = np.where(_HAS_SYNONYM[rows.role], SYNONYM_RADIUS_ARCSEC, np.nan)
    return SourceProperties(distance, np.where(direct, rows.distance, np.nan),
                            kpc_per_arcsec, radius, np.fmax(synonym, radius))


# ------------------------------------------------------------------ classification

class _Choice(NamedTuple):
    position: np.ndarray
    source: np.ndarray
    tier: np.ndarray          # 0 synonym, 1 association, 2 weak association
    separation: np.ndarray
    north: np.ndarray
    east: np.ndarray


def classify_positions(ra, dec, index: SherlockIndex) -> SherlockBatch:
    """Classify transients at ``ra``, ``dec`` (deg, arrays or scalars) against
    ``index``; one :class:`SherlockResult` per position, in order."""
    ra, dec = _checked_positions(ra, dec)
    choice = _choose(ra, dec, index)
    return SherlockBatch(_results(len(ra), choice, index), index.version)


def _checked_positions(ra, dec) -> tuple[np.ndarray, np.ndarray]:
    ra = np.atleast_1d(np.asarray(ra, dtype=np.float64))
    dec = np.atleast_1d(np.asarray(dec, dtype=np.float64))
    if ra.shape != dec.shape or ra.ndim != 1:
        raise InvalidPositionError(f"ra and dec must be 1-d arrays of one length, not "
                                   f"{ra.shape} and {dec.shape}")
    bad = ~(np.isfinite(ra) & np.isfinite(dec) & (np.abs(dec) <= 90.0))
    if bad.any():
        i = int(np.argmax(bad))
        raise InvalidPositionError(f"position {i} (ra={ra[i]}, dec={dec[i]}) is not a "
                                   "finite sky position")
    return ra % 360.0, dec


def offsets_arcsec(ra_t, dec_t, ra_s, dec_s, separation) -> tuple[np.ndarray, np.ndarray]:
    """(north, east) offsets, arcsec, of transients from sources: separation times the
    cosine / sine of the position angle of the transient seen from the source."""
    a_t, d_t, a_s, d_s = (np.radians(v) for v in (ra_t, dec_t, ra_s, dec_s))
    y = np.sin(a_t - a_s) * np.cos(d_t)
    x = np.cos(d_s) * np.sin(d_t) - np.sin(d_s) * np.cos(d_t) * np.cos(a_t - a_s)
    angle = np.arctan2(y, x)
    return separation * np.cos(angle), separation * np.sin(angle)


def _choose(ra: np.ndarray, dec: np.ndarray, index: SherlockIndex) -> _Choice:
    """The best match of each position that has one (see :mod:`catalogs.rules`)."""
    pos, src, sep = index.sky.match_positions(ra, dec)
    rows = index.rows
    north, east = offsets_arcsec(ra[pos], dec[pos], rows.ra[src], rows.dec[src], sep)
    tier, key = _rank_pairs(index, src, sep, north, east)
    kept = np.flatnonzero(tier < 3)
    order = kept[np.lexsort((src[kept], index.catalogue[src[kept]], key[kept], tier[kept],
                             pos[kept]))]
    first = order[np.unique(pos[order], return_index=True)[1]]
    return _Choice(pos[first], src[first], tier[first], sep[first], north[first], east[first])


def _rank_pairs(index: SherlockIndex, src: np.ndarray, sep: np.ndarray, north: np.ndarray,
                east: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tier of each pair (0 synonym, 1 association, 2 weak association, 3 none) and the
    key ordering pairs within a tier (lower wins)."""
    rows = index.rows
    role = rows.role[src]
    radius = index.properties.association_radius_arcsec[src]
    synonym = _HAS_SYNONYM[role] & (sep <= SYNONYM_RADIUS_ARCSEC)
    association = ((role == Role.GALAXY) | (role == Role.BRIGHT_STAR)) & (sep <= radius) \
        & ~synonym
    gamma = np.flatnonzero(role == Role.GAMMA)
    ellipse = np.full(len(src), np.inf)
    ellipse[gamma] = rules.ellipse_offsets(
        north[gamma], east[gamma], rows.major_axis[src[gamma]], rows.minor_axis[src[gamma]],
        rows.position_angle[src[gamma]])
    weak = ellipse <= 1.0
    tier = np.select([synonym, association, weak], [0, 1, 2], 3)
    with np.errstate(invalid="ignore", divide="ignore"):
        key = np.select([synonym, association, weak],
                        [_SYNONYM_PRIORITY[role] + sep / (2 * SYNONYM_RADIUS_ARCSEC),
                         sep / radius, ellipse], np.inf)
    return tier, key


def _nullable(values: np.ndarray) -> np.ndarray:
    """Object array with ``None`` for nan / empty strings."""
    out = values.astype(object)
    if values.dtype.kind == "f":
        out[np.isnan(values)] = None
    elif values.dtype.kind == "O":
        out[values == ""] = None
    return out


def _results(n: int, choice: _Choice, index: SherlockIndex) -> list[SherlockResult]:
    """One result per position: the chosen matches' columns, ORPHAN elsewhere."""
    chosen = _chosen_columns(choice, index)
    texts = [_describe(*args) for args in zip(
        *(chosen[k].tolist() for k in ("classification", "catalogue_table_name",
                                       "catalogue_object_id", "catalogue_object_type",
                                       "separationArcsec", "physical_separation_kpc", "z",
                                       "photoZ", "distance", "Mag", "MagFilter")),
        choice.tier.tolist(), index.rows.role[choice.source].tolist())]
    chosen["description"] = np.array([t[0] for t in texts], dtype=object)
    chosen["summary"] = np.array([t[1] for t in texts], dtype=object)
    defaults = {"classification": "ORPHAN", "annotator": ANNOTATOR, **ORPHAN_TEXT}
    columns = []
    for field in SherlockResult._fields:
        column = np.full(n, defaults.get(field), dtype=object)
        if field in chosen:
            column[choice.position] = _nullable(chosen[field])
        columns.append(column.tolist())
    return list(map(SherlockResult._make, zip(*columns)))


def _chosen_columns(choice: _Choice, index: SherlockIndex) -> dict[str, np.ndarray]:
    """The ``sherlock_classifications`` columns of the chosen matches (nan = NULL)."""
    rows, props, src = index.rows, index.properties, choice.source
    role = rows.role[src]
    classification = np.where(choice.tier == 0, _SYNONYM_CLASS[role],
                              np.where(choice.tier == 1, _ASSOCIATION_CLASS[role], "AGN"))
    return {
        "classification": classification.astype(object),
        "association_type": np.where(choice.tier == 0, "SYNONYM", "ASSOCIATION").astype(object),
        "catalogue_table_name": np.asarray(index.catalogue_names,
                                           dtype=object)[index.catalogue[src]],
        "catalogue_object_id": rows.id[src], "catalogue_object_type": rows.type[src],
        "raDeg": rows.ra[src], "decDeg": rows.dec[src],
        "separationArcsec": choice.separation, "northSeparationArcsec": choice.north,
        "eastSeparationArcsec": choice.east,
        "physical_separation_kpc": choice.separation * props.kpc_per_arcsec[src],
        "direct_distance": props.direct_distance_mpc[src],
        "distance": props.distance_mpc[src], "z": rows.z[src], "photoZ": rows.photo_z[src],
        "photoZErr": rows.photo_z_err[src], "Mag": rows.mag[src],
        "MagFilter": rows.mag_filter[src], "MagErr": rows.mag_err[src],
        "classificationReliability": (choice.tier + 1).astype(object),
        "major_axis_arcsec": rows.major_axis[src],
    }


ORPHAN_TEXT = {
    "description": "Transient has no catalogued counterpart or host galaxy within the "
                   "search radii; it is an orphan.",
    "summary": "ORPHAN: no catalogued counterpart or host",
}

_ROLE_NOUN = {Role.CV: "cataclysmic variable", Role.VARIABLE_STAR: "variable star",
              Role.YSO: "young stellar object", Role.STAR: "star", Role.BRIGHT_STAR: "star",
              Role.AGN: "AGN", Role.GALAXY: "galaxy", Role.GAMMA: "gamma-ray source"}
_VERDICT = {"VS": "likely a variable star", "CV": "likely a cataclysmic variable outburst",
            "AGN": "likely AGN variability", "NT": "likely a nuclear transient",
            "SN": "likely a supernova", "BS": "possibly an artefact of the bright star"}


def _label(catalogue: str, ident: str) -> str:
    """A readable designation: numeric ids (row numbers) get the catalogue name."""
    return f"{catalogue} #{ident}" if ident.isdigit() else ident


def _context(kind: str, z: float, photo_z: float, distance: float, mag: float,
             band: str, with_mag: bool) -> str:
    parts = [kind] if kind else []
    if z == z:
        parts.append(f"z={z:.3f}")
    elif photo_z == photo_z:
        parts.append(f"photo-z={photo_z:.2f}")
    if distance == distance:
        parts.append(f"{distance:.1f} Mpc")
    if with_mag and mag == mag:
        parts.append(f"{band or 'mag'}={mag:.2f}")
    return f" ({', '.join(parts)})" if parts else ""


def _describe(classification: str, catalogue: str, ident: str, kind: str, sep: float,
              kpc: float, z: float, photo_z: float, distance: float, mag: float, band: str,
              tier: int, role: int) -> tuple[str, str]:
    """(description, summary) of one chosen match."""
    label = _label(catalogue, ident)
    where = f'{sep:.1f}"' + (f" ({kpc:.2f} kpc)" if kpc == kpc else "")
    if classification in ("SN", "NT"):
        context = _context("", z, photo_z, distance, mag, band, False)
        text = f"Transient is {where} from the core of {label}{context}"
    elif tier == 2:
        text = (f"Transient is {where} from {label}, inside its 95% gamma-ray error "
                f"ellipse; possibly a flaring blazar")
        return text + ".", f'AGN (weak): in the error ellipse of {label} ({catalogue})'
    else:
        noun = _ROLE_NOUN[Role(role)]
        kind_text = f"{noun} of type {kind}" if kind and kind not in (noun, "star") else noun
        if classification == "BS":
            kind_text = f"bright {noun}"
        context = _context(kind_text, z, photo_z, distance, mag, band, True)
        text = f"Transient is {where} from {label}{context}"
    verdict = _VERDICT[classification]
    kind_word = "synonym" if tier == 0 else "association"
    return (f"{text}; {verdict}.",
            f'{classification} {kind_word}: {label} ({catalogue}), {sep:.1f}"')
