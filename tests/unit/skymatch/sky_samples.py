"""Random and offset sky positions for the sky-matching tests."""
import numpy as np
import astropy.units as u
from astropy.coordinates import SkyCoord


def random_sky(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions uniform on the sphere, degrees."""
    return rng.uniform(0.0, 360.0, n), np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n)))


def offset_by(ra, dec, position_angle_deg, separation_arcsec):
    """Positions at a given position angle and great-circle distance (astropy)."""
    moved = SkyCoord(ra * u.deg, dec * u.deg).directional_offset_by(
        position_angle_deg * u.deg, separation_arcsec * u.arcsec)
    return moved.ra.deg, moved.dec.deg
