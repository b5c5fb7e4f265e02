"""Cutouts rendered with zscale, and sky previews of watchmaps."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from solas.skymatch import read_moc_fits
from web.images import ImageError, moc_preview_png, stamp_image, zscale_png


def test_real_cutouts_render_as_png(ztf_alert):
    for kind in ("Science", "Template", "Difference"):
        data = ztf_alert.cutouts[kind]
        png = zscale_png(data)
        image = Image.open(io.BytesIO(png))
        assert image.format == "PNG" and image.mode == "L"
        assert image.size == stamp_image(data).shape[::-1]
        pixels = np.asarray(image)
        assert pixels.min() == 0 and pixels.max() == 255  # zscale clips both ends
        assert Image.open(io.BytesIO(zscale_png(data, size=240))).size == (240, 240)


def test_flat_and_nan_stamps(tmp_path):
    from astropy.io import fits
    buf = io.BytesIO()
    fits.PrimaryHDU(np.full((8, 8), np.nan)).writeto(buf)
    assert np.asarray(Image.open(io.BytesIO(zscale_png(buf.getvalue())))).max() == 0
    buf = io.BytesIO()
    flipped = np.arange(64, dtype=float).reshape(8, 8)
    fits.PrimaryHDU(flipped).writeto(buf)
    pixels = np.asarray(Image.open(io.BytesIO(zscale_png(buf.getvalue()))))
    assert pixels[0, 0] > pixels[-1, 0]  # FITS row 0 is the bottom: north up


def test_garbage_stamps_raise():
    for junk in (b"not fits", b"\x1f\x8b\x08garbage"):
        with pytest.raises(ImageError):
            zscale_png(junk)


def test_moc_preview_covers_the_moc_area(settings_data_dir):
    moc = read_moc_fits((settings_data_dir / "skymaps" / "V_147_sdss12.moc.fits").read_bytes())
    png = moc_preview_png(moc, width=360)
    image = np.asarray(Image.open(io.BytesIO(png)))
    assert image.shape == (180, 360, 3)
    covered = (image == (255, 170, 40)).all(axis=2)
    dec = 90 - (np.arange(180) + 0.5)
    weights = np.cos(np.radians(dec))[:, None] * np.ones((1, 360))
    fraction = (covered * weights).sum() / weights.sum()
    assert fraction == pytest.approx(moc.sky_fraction, abs=0.01)
