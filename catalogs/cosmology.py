"""Distances from redshift in the cosmology Solas uses everywhere: flat LambdaCDM with
H0 = 70 km/s/Mpc and Omega_m = 0.3 (astropy.cosmology)."""
from __future__ import annotations

import numpy as np
from astropy.cosmology import FlatLambdaCDM

COSMOLOGY = FlatLambdaCDM(H0=70.0, Om0=0.3)
"""The one cosmology of Solas (also used for absolute magnitudes)."""


def _for_positive(z, distance) -> np.ndarray:
    z = np.atleast_1d(np.asarray(z, dtype=np.float64))
    out = np.full(z.shape, np.nan)
    good = np.isfinite(z) & (z > 0)
    if good.any():
        out[good] = distance(z[good]).to_value("Mpc")
    return out


def luminosity_distance_mpc(z) -> np.ndarray:
    """Luminosity distance, Mpc, of redshifts ``z``; ``nan`` where z <= 0 or unknown."""
    return _for_positive(z, COSMOLOGY.luminosity_distance)


def angular_diameter_distance_mpc(z) -> np.ndarray:
    """Angular diameter distance, Mpc, of redshifts ``z``; ``nan`` where z <= 0 or
    unknown."""
    return _for_positive(z, COSMOLOGY.angular_diameter_distance)
