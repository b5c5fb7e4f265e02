"""Black-body temperatures, extinction correction and colour pairs."""
from __future__ import annotations

import numpy as np
import pytest

from solas.features import colour


def planck_nu(wl_um, temp_k):
    """Planck B_nu up to a constant, written from h, c, k in SI units."""
    h, c, k = 6.62607015e-34, 2.99792458e8, 1.380649e-23
    nu = c / (np.asarray(wl_um) * 1e-6)
    return nu ** 3 / np.expm1(h * nu / (k * temp_k))


@pytest.mark.parametrize("temp", [2000.0, 4500.0, 8000.0, 15000.0, 60000.0])
def test_temperature_recovers_black_body(temp):
    wl = colour.WAVELENGTH_UM
    blue, red = np.meshgrid(np.arange(6), np.arange(6), indexing="ij")
    sel = blue < red
    ratio = planck_nu(wl[blue[sel]], temp) / planck_nu(wl[red[sel]], temp)
    np.testing.assert_allclose(colour.temperature(ratio, wl[blue[sel]], wl[red[sel]]), temp,
                               rtol=1e-6)


def test_temperature_undefined_when_bluer_than_rayleigh_jeans():
    limit = (0.62 / 0.50) ** 2
    result = colour.temperature(np.array([limit * 1.01, -1.0, np.nan, 0.0]), 0.50, 0.62)
    assert np.isnan(result).all()


def test_deredden():
    flux = np.array([100.0, 100.0, 100.0])
    out = colour.deredden(flux, np.array([1, 5, -1]), np.array([0.1, 0.1, 0.1]))
    np.testing.assert_allclose(out, [100 * 10 ** (0.4 * 3.237 * 0.1),
                                     100 * 10 ** (0.4 * 1.088 * 0.1), 100.0])


def pairs_of(points):
    """pair_colours of one object from (t, band index, flux) tuples."""
    t, band, flux = (np.array(v) for v in zip(*points))
    return colour.pair_colours(np.zeros(len(points), dtype=np.int64), 1, t.astype(float),
                               flux.astype(float), band.astype(np.int64))


def test_pair_order_does_not_matter():
    g_then_r = pairs_of([(100.0, 1, 2000.0), (100.01, 2, 1500.0)])[0]
    r_then_g = pairs_of([(100.0, 2, 1500.0), (100.01, 1, 2000.0)])[0]
    for pair in (g_then_r, r_then_g):
        assert pair.bands[0] == "g-r"
        assert pair.colour[0] == pytest.approx(-2.5 * np.log10(2000.0 / 1500.0))
        assert pair.mjd[0] == 100.01
    assert g_then_r.temp[0] == pytest.approx(r_then_g.temp[0])
    assert np.isfinite(g_then_r.temp[0])


def test_pair_rules():
    latest, penultimate = pairs_of([
        (10.0, 0, 500.0), (10.02, 3, 700.0),      # u-i pair
        (20.0, 1, 100.0), (20.1, 2, 100.0),       # 2.4 h apart: no pair
        (30.0, 2, 100.0), (30.01, 2, 120.0),      # same band: no pair
        (40.0, 1, -50.0), (40.01, 2, 90.0),       # negative flux: no pair
        (50.0, 4, 300.0), (50.01, 5, 400.0), (50.02, 1, 200.0),  # z-y then y-g (shared)
    ])
    assert latest.bands[0] == "g-y" and latest.mjd[0] == 50.02
    assert penultimate.bands[0] == "u-i" and penultimate.mjd[0] == 10.02


def test_no_pairs():
    latest, penultimate = pairs_of([(1.0, 1, 10.0)])
    assert latest.bands[0] is None and np.isnan(latest.colour[0])
    assert penultimate.bands[0] is None
