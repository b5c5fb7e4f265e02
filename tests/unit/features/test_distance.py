"""Distances and absolute magnitudes against astropy's cosmology."""
from __future__ import annotations

import numpy as np
import pytest
from astropy.cosmology import FlatLambdaCDM

from solas.features import distance

COSMO = FlatLambdaCDM(H0=70, Om0=0.3)
ZS = np.array([0.001, 0.01, 0.05, 0.3, 1.2, 4.0])


def test_luminosity_distance_and_inverse():
    np.testing.assert_allclose(distance.luminosity_distance(ZS),
                               COSMO.luminosity_distance(ZS).value, rtol=1e-5)
    np.testing.assert_allclose(distance.redshift_at(COSMO.luminosity_distance(ZS).value), ZS,
                               rtol=1e-4)
    assert np.isnan(distance.luminosity_distance(np.array([0.0, -1, np.nan, 25]))).all()
    assert np.isnan(distance.redshift_at(np.array([0.0, -5.0, np.nan]))).all()


def test_absolute_magnitude_uses_one_k_correction():
    flux = np.array([1e4, 1e4, -5.0])
    z = np.array([0.05, 0.2, 0.05])
    d = COSMO.luminosity_distance(z).value
    expected = 31.4 - 2.5 * np.log10(1e4) - COSMO.distmod(z[:2]).value + 2.5 * np.log10(1 + z[:2])
    got = distance.absolute_magnitude(flux, d, z)
    np.testing.assert_allclose(got[:2], expected, rtol=1e-9)
    assert np.isnan(got[2])


def test_context_distances():
    context = {1: {"z": 0.1}, 2: {"distance": 40.0, "z": None}, 3: {"direct_distance": 20.0,
               "distance": 99.0, "photoZ": 0.004}, 4: {"classification": "VS"}, 5: "junk"}
    d, z = distance.context_distances([1, 2, 3, 4, 5, 6], context)
    assert d[0] == pytest.approx(COSMO.luminosity_distance(0.1).value, rel=1e-5)
    assert z[1] == pytest.approx(distance.redshift_at(np.array([40.0]))[0])
    assert (d[2], z[2]) == (20.0, 0.004)
    assert np.isnan(d[3:]).all() and np.isnan(z[3:]).all()
    assert np.isnan(distance.context_distances([1], None).z).all()
