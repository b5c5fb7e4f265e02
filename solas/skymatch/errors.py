"""Errors raised by the sky matchers: every one is a ``ValueError`` naming the bad input."""
from __future__ import annotations


class SkyMatchError(ValueError):
    """Base class of the errors of :mod:`solas.skymatch`."""


class PositionError(SkyMatchError):
    """Positions that are not finite or whose declination lies outside [-90, 90] deg."""


class WatchlistError(SkyMatchError):
    """A watchlist whose cones are inconsistent (lengths, radii, names, ...)."""


class WatchlistCsvError(WatchlistError):
    """A watchlist upload that cannot be read at all (not a single bad row)."""


class MocError(SkyMatchError):
    """A MOC (watchmap) file that is not a valid spatial MOC."""


class SkymapError(SkyMatchError):
    """A gravitational-wave (HEALPix probability) sky map that cannot be read."""


def fits_trouble(messages: list[str]) -> str:
    """Plain words for why astropy or mocpy could not read a file, from the texts of
    their exceptions and warnings (which quote library internals: never shown)."""
    text = " ".join(messages).lower()
    if not text.strip() or "empty" in text or "simple" in text or "no header" in text:
        return "it is not a FITS file (a FITS file starts with a SIMPLE = T header)"
    if any(word in text for word in ("truncat", "corrupt", "eof", "end of file", "short")):
        return "the file looks truncated or corrupted"
    return "its FITS headers or tables are malformed"
