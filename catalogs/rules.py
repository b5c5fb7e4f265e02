"""The Sherlock-style rules: synonym radius, association radii and precedence.

Radii (all arcsec, vectorised over sources):

* **Synonym** (:data:`SYNONYM_RADIUS_ARCSEC` = 1.5"): a transient this close to a star,
  variable star, CV, YSO or AGN *is* that object (VS, CV, AGN); this close to a
  galaxy's catalogued core it is nuclear (NT).
* **Galaxy association** (SN): the largest of
  - a size term, :data:`GALAXY_SIZE_FACTOR` x the major axis (0.75 x the full axis,
    i.e. 1.5 semi-major axes: host offsets of supernovae reach beyond the isophote), and
  - a physical term when the distance is known: ``R = 10 kpc x 10**(-0.2 (M_B + 20))``
    (radius growing as L**0.5 with the absolute magnitude from an optical magnitude;
    10 kpc without one), clipped to [1, 30] kpc, at the galaxy's distance;
  when neither is known, an apparent-magnitude term
  ``60" x 10**(-0.2 (m - 13.5))`` (a galaxy of m = 13.5 spans ~1.3'), else
  :data:`GALAXY_DEFAULT_RADIUS_ARCSEC`. Radii not based on a measured size are capped
  at :data:`GALAXY_MAX_UNSIZED_RADIUS_ARCSEC` (5'); all are clipped to
  [:data:`GALAXY_MIN_RADIUS_ARCSEC`, :data:`GALAXY_MAX_RADIUS_ARCSEC`] (3", 2 deg).
* **Bright star** (BS): ``10**(3.3 - 0.2 m)`` arcsec for stars with the BRIGHT_STAR role
  (m <= 13: 5" at m = 13, 50" at m = 8, 500" at m = 3), capped at
  :data:`BRIGHT_STAR_MAX_RADIUS_ARCSEC` (20').
* **Gamma-ray ellipse** (weak AGN): inside the 95% error ellipse of a 4FGL source.

Precedence: synonyms (reliability 1) outrank associations (2), which outrank the weak
gamma-ray association (3). Among synonyms the more specific role wins
(:data:`SYNONYM_PRIORITY`: CV, AGN, variable star, YSO, galaxy core, star), then the
smaller separation; among associations (SN, BS) the one with the smallest separation
relative to its radius; remaining ties go to the earlier catalogue.
"""
from __future__ import annotations

import numpy as np

from catalogs.model import Role

RULES_VERSION = "1.0"
"""Version of these rules; part of the annotator name and the catalogue version."""
SYNONYM_RADIUS_ARCSEC = 1.5
GALAXY_SIZE_FACTOR = 0.75
GALAXY_REFERENCE_KPC = 10.0
GALAXY_REFERENCE_ABS_MAG = -20.0
GALAXY_KPC_RANGE = (1.0, 30.0)
GALAXY_MAG_RADIUS = (60.0, 13.5)
"""(radius arcsec, apparent magnitude) anchoring the magnitude-only galaxy radius."""
GALAXY_DEFAULT_RADIUS_ARCSEC = 5.0
GALAXY_MIN_RADIUS_ARCSEC = 3.0
GALAXY_MAX_RADIUS_ARCSEC = 7200.0
GALAXY_MAX_UNSIZED_RADIUS_ARCSEC = 300.0
"""Cap of a galaxy radius not based on a measured size: any galaxy larger than 5' on
the sky has a catalogued size, so a larger radius signals a wrong distance."""
BRIGHT_STAR_ZERO_POINT = 3.3
BRIGHT_STAR_MAX_RADIUS_ARCSEC = 1200.0
OPTICAL_FILTERS = frozenset({"B", "V", "g", "r", "R", "pg", "O"})
"""Bands whose magnitudes scale the galaxy and bright-star radii."""

SYNONYM_CLASS = {Role.CV: "CV", Role.AGN: "AGN", Role.VARIABLE_STAR: "VS", Role.YSO: "VS",
                 Role.GALAXY: "NT", Role.STAR: "VS", Role.BRIGHT_STAR: "VS"}
"""Classification of a synonym match by the role of the source."""
SYNONYM_PRIORITY = {Role.CV: 0, Role.AGN: 1, Role.VARIABLE_STAR: 2, Role.YSO: 3,
                    Role.GALAXY: 4, Role.STAR: 5, Role.BRIGHT_STAR: 5}
"""Lower wins between synonym matches of different roles."""
ASSOCIATION_CLASS = {Role.GALAXY: "SN", Role.BRIGHT_STAR: "BS", Role.GAMMA: "AGN"}
"""Classification of an association by the role of the source."""


def role_table(mapping: dict[Role, object], default, dtype) -> np.ndarray:
    """A lookup array indexed by role number (roles are 0 .. len(Role) - 1)."""
    table = np.full(len(Role), default, dtype=dtype)
    for role, value in mapping.items():
        table[int(role)] = value
    return table


def galaxy_radius_arcsec(major_axis_arcsec: np.ndarray, mag: np.ndarray,
                         optical: np.ndarray, distance_mpc: np.ndarray,
                         kpc_per_arcsec: np.ndarray) -> np.ndarray:
    """Association radius (arcsec) of galaxies from their major axis (arcsec),
    magnitude (mag; used where ``optical``), luminosity distance (Mpc) and scale
    (kpc/arcsec); see the module docstring."""
    size = GALAXY_SIZE_FACTOR * major_axis_arcsec
    with np.errstate(invalid="ignore", divide="ignore"):
        abs_mag = np.where(optical, mag - 5.0 * np.log10(distance_mpc * 1e5), np.nan)
        kpc = GALAXY_REFERENCE_KPC * 10.0 ** (-0.2 * (abs_mag - GALAXY_REFERENCE_ABS_MAG))
        kpc = np.clip(np.where(np.isfinite(kpc), kpc, GALAXY_REFERENCE_KPC), *GALAXY_KPC_RANGE)
        physical = kpc / kpc_per_arcsec
        from_mag = np.where(optical, GALAXY_MAG_RADIUS[0]
                            * 10.0 ** (-0.2 * (mag - GALAXY_MAG_RADIUS[1])), np.nan)
    physical = np.where(np.isnan(size), np.minimum(physical, GALAXY_MAX_UNSIZED_RADIUS_ARCSEC),
                        physical)
    from_mag = np.minimum(from_mag, GALAXY_MAX_UNSIZED_RADIUS_ARCSEC)
    radius = np.fmax(size, physical)
    radius = np.where(np.isnan(radius), from_mag, radius)
    radius = np.where(np.isnan(radius), GALAXY_DEFAULT_RADIUS_ARCSEC, radius)
    return np.clip(radius, GALAXY_MIN_RADIUS_ARCSEC, GALAXY_MAX_RADIUS_ARCSEC)


def bright_star_radius_arcsec(mag: np.ndarray) -> np.ndarray:
    """Bright-star association radius (arcsec) of stars of magnitude ``mag``; ``nan``
    where the magnitude is unknown."""
    with np.errstate(invalid="ignore"):
        radius = 10.0 ** (BRIGHT_STAR_ZERO_POINT - 0.2 * mag)
    return np.minimum(radius, BRIGHT_STAR_MAX_RADIUS_ARCSEC)


def ellipse_offsets(north_arcsec: np.ndarray, east_arcsec: np.ndarray,
                    major_axis_arcsec: np.ndarray, minor_axis_arcsec: np.ndarray,
                    position_angle_deg: np.ndarray) -> np.ndarray:
    """Elliptical radius of offsets (north, east of the centre, arcsec) in ellipses of
    full axes ``major``/``minor`` (arcsec) at ``position_angle`` (deg east of north):
    <= 1 inside."""
    pa = np.radians(position_angle_deg)
    along = north_arcsec * np.cos(pa) + east_arcsec * np.sin(pa)
    across = -north_arcsec * np.sin(pa) + east_arcsec * np.cos(pa)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.hypot(along / (major_axis_arcsec / 2.0), across / (minor_axis_arcsec / 2.0))
