"""Images the portal serves: cutouts as PNG (zscale) and sky previews of watchmaps.

Cutouts: the FITS stamp (optionally gzipped) is read with astropy, scaled with
:class:`astropy.visualization.ZScaleInterval` (IRAF zscale limits, linear stretch),
flipped so north is up and encoded as an 8-bit greyscale PNG with Pillow.

Sky preview: an equirectangular all-sky map, RA from 360 deg at the left edge to 0 deg
at the right (as on the sky seen from inside), each pixel coloured if its centre lies
in the MOC, with a 30-degree graticule.
"""
from __future__ import annotations

import gzip
import io
import warnings

import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.visualization import ZScaleInterval
from mocpy import MOC
from PIL import Image


class ImageError(ValueError):
    """A stamp that is not a readable 2-D FITS image."""


def stamp_image(data: bytes) -> np.ndarray:
    """The 2-D float array of a FITS stamp (bytes, maybe gzipped)."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as err:
            raise ImageError(f"corrupt gzip stamp: {err}") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with fits.open(io.BytesIO(data)) as hdus:
                image = next((h.data for h in hdus if h.data is not None and
                              getattr(h.data, "ndim", 0) == 2), None)
                image = None if image is None else np.array(image, dtype=np.float64)
    except Exception as err:  # astropy raises OSError, TypeError, ValueError...
        raise ImageError(f"not a FITS image: {err}") from None
    if image is None:
        raise ImageError("the FITS stamp has no 2-D image")
    return image


def zscale_png(data: bytes, size: int | None = None) -> bytes:
    """An 8-bit PNG of a FITS stamp, zscale-limited, north up (row 0 at the top)."""
    image = stamp_image(data)
    finite = np.isfinite(image)
    if not finite.any():
        scaled = np.zeros(image.shape, np.uint8)
    else:
        lo, hi = ZScaleInterval().get_limits(image[finite])
        span = hi - lo if hi > lo else 1.0
        clipped = np.clip((np.where(finite, image, lo) - lo) / span, 0.0, 1.0)
        scaled = np.round(clipped * 255).astype(np.uint8)
    picture = Image.fromarray(scaled[::-1], mode="L")
    if size:
        picture = picture.resize((size, size), Image.Resampling.NEAREST)
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


def moc_preview_png(moc: MOC, width: int = 720) -> bytes:
    """An all-sky equirectangular preview of a MOC (RA 360..0 left to right)."""
    height = width // 2
    ra = 360.0 - (np.arange(width) + 0.5) * 360.0 / width
    dec = 90.0 - (np.arange(height) + 0.5) * 180.0 / height
    lon, lat = np.meshgrid(ra, dec)
    inside = moc.contains_lonlat(lon.ravel() * u.deg, lat.ravel() * u.deg).reshape(lon.shape)
    rgb = np.empty((height, width, 3), np.uint8)
    rgb[...] = (14, 22, 48)
    grid_x = np.zeros(width, bool)
    grid_x[np.round(np.arange(0, 361, 30) * (width - 1) / 360).astype(int)] = True
    grid_y = np.zeros(height, bool)
    grid_y[np.round(np.arange(0, 181, 30) * (height - 1) / 180).astype(int)] = True
    rgb[:, grid_x] = (70, 80, 110)
    rgb[grid_y, :] = (70, 80, 110)
    rgb[inside] = (255, 170, 40)
    out = io.BytesIO()
    Image.fromarray(rgb, mode="RGB").save(out, format="PNG")
    return out.getvalue()
