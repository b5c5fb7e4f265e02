"""Sky matching of alerts: watchlist cones, watchmap MOCs and gravitational-wave sky maps.

- :class:`ConeIndex` / :class:`WatchlistCones`: watchlist cones (exact great-circle
  separation, per-cone radius), any number of watchlists in one index.
- :func:`read_watchlist_csv`: streaming parser of watchlist uploads.
- :class:`MocIndex`, :func:`read_moc_fits`, :func:`read_watchmap_fits`: watchmaps merged
  into one index.
- :func:`read_skymap`, :func:`evaluate_skymap`, :func:`match_to_skymap`,
  :func:`credible_region_moc`, :func:`skymap_to_bytes` / :func:`skymap_from_bytes`: GW
  sky maps.
"""
from solas.skymatch.cones import (DEFAULT_RADIUS_ARCSEC, MAX_RADIUS_ARCSEC, ConeIndex,
                                  ConeMatches, WatchlistCones)
from solas.skymatch.coords import parse_dec, parse_ra
from solas.skymatch.errors import (MocError, PositionError, SkymapError, SkyMatchError,
                                   WatchlistCsvError, WatchlistError)
from solas.skymatch.mocs import (MocIndex, MocMatches, moc_area_deg2, moc_to_fits_bytes,
                                 read_moc_fits, read_watchmap_fits)
from solas.skymatch.sky import separation_arcsec
from solas.skymatch.skymaps import (SkyMap, SkymapMatches, SkymapValues,
                                    credible_region_moc, evaluate_skymap, match_to_skymap,
                                    read_skymap, skymap_from_bytes, skymap_to_bytes)
from solas.skymatch.watchlist_csv import ConeRows, CsvRowError, read_watchlist_csv

__all__ = [
    "DEFAULT_RADIUS_ARCSEC", "MAX_RADIUS_ARCSEC", "ConeIndex", "ConeMatches", "ConeRows",
    "CsvRowError", "MocError", "MocIndex", "MocMatches", "PositionError", "SkyMap",
    "SkyMatchError", "SkymapError", "SkymapMatches", "SkymapValues", "WatchlistCones",
    "WatchlistCsvError", "WatchlistError", "credible_region_moc", "evaluate_skymap",
    "match_to_skymap", "moc_area_deg2", "moc_to_fits_bytes", "parse_dec", "parse_ra",
    "read_moc_fits", "read_skymap", "read_watchlist_csv", "read_watchmap_fits",
    "separation_arcsec", "skymap_from_bytes", "skymap_to_bytes",
]
