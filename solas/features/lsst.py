"""Rubin (LSST) light-curve features: the computed columns of the Rubin ``objects`` table.

Inputs are the alert's detections (``prvDiaSources`` + the triggering ``diaSource``):
``psfFlux``/``psfFluxErr`` (nJy; DP0.2 ``psFlux``), ``band`` (older ``filterName``),
``midpointMjdTai`` (older ``midPointTai``, MJD TAI), ``reliability``; and, for the
fits only, ``prvDiaForcedSources``.  Points with a NaN or missing flux are left out of
every flux statistic (but still counted as detections).

The user-facing definition of each column (units, points, exactly when it is NULL) is
its entry in the column spec, :func:`solas.schema.tables.mariadb_tables`.  In short
(b is a band in ugrizy; "positive" means psfFlux > 0; a night is the
Rubin dayObs, ``floor(MJD - 0.5)``):

- ``latest_psfFlux``, ``b_psfFlux``, ``b_latestMJD``: flux and time of the latest
  detection (in band b).
- ``b_psfFluxMean``, ``b_psfFluxMeanErr``: inverse-variance weighted mean flux of the
  band-b detections and its standard error ``(sum 1/err^2)^-1/2``.
- ``nDiaSources``, ``n<b>Sources``: detections in the alert (in band b);
  ``nPosDiaSources``: positive ones; ``nPosDiaSourcesNights``: nights with a positive
  one (both -1, NULL, when no detection has a finite flux); ``nSourcesGood``:
  reliability > 0.5 (-1, NULL, when no detection has a reliability).  ``medianR``,
  ``latestR``: median and latest reliability.
- ``firstDiaSourceMjdTai``, ``lastDiaSourceMjdTai``: first and last detection time (the
  diaObject's first time when it is earlier).
- ``jump1``, ``jump2``: per band, the mean and standard deviation (ddof 1) of the
  detections 10-70 d before the latest detection (at least 5 of them, sd > 0); the
  jump is the largest ``|flux - mean| / sd`` of the band's detections in the last
  10 d (the latest included); the largest and second-largest jump over bands.
- ``latestPair*``, ``penultimatePair*``: see :func:`solas.features.colour.pair_colours`
  (colours on fluxes corrected with ``ebv``).
- ``absMag``, ``absMagMJD``: brightest absolute magnitude of the extinction-corrected
  positive detections, with the context distance / redshift
  (:mod:`solas.features.distance`), and its time.
- No Rubin column is a rate between two detections, so the shortest rate interval of
  the ZTF ``dmdt_*`` does not apply; the one spread (``jump*``'s sd) needs 5 points.
- ``BBB*``: :mod:`solas.features.bazin` on the extinction-corrected light curve;
  ``BBBPeakAbsMag`` from ``BBBPeakFlux`` like ``absMag``.  Objects whose context gives a
  Sherlock classification other than SN, NT or ORPHAN are not fitted.
- ``glat``, ``ebv``, ``hpx16``: :mod:`solas.features.sky` at (``ra``, ``decl``), the
  diaObject position (else the triggering diaSource's).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from solas.features import bazin, groups, sky
from solas.features.colour import (LSST_BANDS, WAVELENGTH_UM, PairColours, deredden,
                                   pair_colours)
from solas.features.distance import absolute_magnitude, context_distances
from solas.features.points import Points, gather, lookup_codes
from solas.surveys import Alert

NB = len(LSST_BANDS)
TIME = ("midpointMjdTai", "midPointTai")
FLUXES = {"flux": ("psfFlux", "psFlux"), "err": ("psfFluxErr", "psFluxErr")}
DETECTION_NUM = {**FLUXES, "reliability": ("reliability",)}
BAND = {"band": ("band", "filterName")}
GOOD_RELIABILITY = 0.5
JUMP_SAMPLE_DAYS = (10.0, 70.0)
JUMP_TEST_DAYS = 10.0
JUMP_MIN_POINTS = 5
FIT_CLASSES = frozenset({"SN", "NT", "ORPHAN"})
"""Sherlock classes whose objects get the BBB fits (all objects without a class do)."""
_BAND_CODE = {b: i for i, b in enumerate(LSST_BANDS)}

Columns = dict[str, np.ndarray]


def _object_number(alert: Alert, names: tuple[str, ...]) -> float:
    for name in names:
        value = alert.object.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return np.nan


def _positions(alerts: Sequence[Alert]) -> tuple[np.ndarray, np.ndarray]:
    """diaObject (ra, dec), else the triggering diaSource's, deg."""
    ra = np.array([_object_number(a, ("ra",)) for a in alerts], dtype=float)
    dec = np.array([_object_number(a, ("dec", "decl")) for a in alerts], dtype=float)
    bad = ~(np.isfinite(ra) & np.isfinite(dec))
    ra[bad] = [a.ra for a, b in zip(alerts, bad) if b]
    dec[bad] = [a.dec for a, b in zip(alerts, bad) if b]
    return ra % 360.0, dec


def _per_band(values: np.ndarray, n: int, pattern: str, out: Columns) -> None:
    """Split an (object, band) array into the columns ``pattern.format(b=band)``."""
    table = values.reshape(n, NB)
    for i, b in enumerate(LSST_BANDS):
        out[pattern.format(b=b)] = table[:, i]


def _counts(d: Points, band: np.ndarray, n: int, out: Columns) -> None:
    obj, flux, rel = d.obj, d.num["flux"], d.num["reliability"]
    positive = np.isfinite(flux) & (flux > 0)
    no_flux = groups.counts(obj, n, np.isfinite(flux)) == 0
    has_rel = np.isfinite(rel)
    no_rel = groups.counts(obj, n, has_rel) == 0
    out["nDiaSources"] = groups.counts(obj, n)
    out["nPosDiaSources"] = np.where(no_flux, -1, groups.counts(obj, n, positive))
    night = np.floor(d.t[positive] - 0.5)
    pobj = obj[positive]
    new_night = np.ones(pobj.size, dtype=bool)
    new_night[1:] = (pobj[1:] != pobj[:-1]) | (night[1:] != night[:-1])
    out["nPosDiaSourcesNights"] = np.where(no_flux, -1, groups.counts(pobj, n, new_night))
    with np.errstate(invalid="ignore"):
        good = groups.counts(obj, n, rel > GOOD_RELIABILITY)
    out["nSourcesGood"] = np.where(no_rel, -1, good)
    out["medianR"] = groups.medians(obj, n, rel, has_rel)
    out["latestR"] = groups.take(rel, groups.last_index(obj, n, has_rel))
    known = band >= 0
    key = obj * NB + np.where(known, band, 0)
    _per_band(groups.counts(key, n * NB, known), n, "n{b}Sources", out)


def _fluxes(d: Points, band: np.ndarray, key: np.ndarray, n: int, out: Columns) -> None:
    obj, t, flux, err = d.obj, d.t, d.num["flux"], d.num["err"]
    finite = np.isfinite(flux)
    out["latest_psfFlux"] = groups.take(flux, groups.last_index(obj, n, finite))
    latest = groups.last_index(key, n * NB, finite & (band >= 0))
    _per_band(groups.take(flux, latest), n, "{b}_psfFlux", out)
    _per_band(groups.take(t, latest), n, "{b}_latestMJD", out)
    with np.errstate(invalid="ignore", divide="ignore"):
        valid = finite & (band >= 0) & np.isfinite(err) & (err > 0)
        weight = 1.0 / err ** 2
        sw = groups.sums(key, n * NB, weight, valid)
        mean = groups.sums(key, n * NB, weight * flux, valid) / sw
        mean_err = 1.0 / np.sqrt(sw)
    _per_band(np.where(sw > 0, mean, np.nan), n, "{b}_psfFluxMean", out)
    _per_band(np.where(sw > 0, mean_err, np.nan), n, "{b}_psfFluxMeanErr", out)


def jumps(obj: np.ndarray, n: int, t: np.ndarray, flux: np.ndarray,
          band: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(jump1, jump2)`` per object (module docstring), sigma; NaN where no band has
    enough sample points."""
    finite = np.isfinite(flux) & (band >= 0)
    t_last = groups.take(t, groups.last_index(obj, n, np.isfinite(flux)))
    age = t_last[obj] - t
    key = obj * NB + np.where(finite, band, 0)
    lo, hi = JUMP_SAMPLE_DAYS
    with np.errstate(invalid="ignore", divide="ignore"):
        sample = finite & (age > lo) & (age < hi)
        num = groups.counts(key, n * NB, sample)
        mean = groups.means(key, n * NB, flux, sample)
        sd = np.sqrt(groups.sums(key, n * NB, (flux - mean[key]) ** 2, sample) / (num - 1))
        usable = (num >= JUMP_MIN_POINTS) & (sd > 0)
        test = finite & (age >= 0) & (age < JUMP_TEST_DAYS) & usable[key]
        jump = np.abs(flux - mean[key]) / sd[key]
    per_band = groups.extreme(key, n * NB, jump, True, test).reshape(n, NB)
    return groups.top_two(per_band)


def _pairs(out: Columns, latest: PairColours, penultimate: PairColours) -> None:
    for prefix, pair in (("latest", latest), ("penultimate", penultimate)):
        out[f"{prefix}PairMJD"] = pair.mjd
        out[f"{prefix}PairColourMag"] = pair.colour
        out[f"{prefix}PairColourBands"] = pair.bands
        out[f"{prefix}PairColourTemp"] = pair.temp


def _absolute(d: Points, flux_c: np.ndarray, dist: np.ndarray, z: np.ndarray, n: int,
              out: Columns) -> None:
    absmag = absolute_magnitude(flux_c, dist[d.obj], z[d.obj])
    ok = np.isfinite(absmag)
    best = groups.extreme(d.obj, n, absmag, False, ok)
    at_best = ok & (absmag == best[d.obj])
    out["absMag"] = best
    out["absMagMJD"] = groups.take(d.t, groups.first_index(d.obj, n, at_best))


def _fit_curves(alerts: Sequence[Alert], d: Points, band: np.ndarray, flux_c: np.ndarray,
                ebv: np.ndarray, wanted: np.ndarray) -> list[bazin.LightCurve | None]:
    """The extinction-corrected light curve of each object to fit (None: skipped)."""
    n = len(alerts)
    err_c = deredden(d.num["err"], band, ebv[d.obj])
    ok = np.isfinite(flux_c) & (band >= 0) & np.isfinite(err_c) & (err_c > 0)
    ok &= wanted[d.obj] & (groups.counts(d.obj, n, ok) >= bazin.MIN_DETECTIONS)[d.obj]
    if not ok.any():
        return [None] * n
    f = gather(alerts, "forced", TIME, FLUXES, BAND)
    fband = lookup_codes(f.text["band"], _BAND_CODE)
    fflux, ferr = (deredden(f.num[k], fband, ebv[f.obj]) for k in ("flux", "err"))
    t_first = groups.take(d.t, groups.first_index(d.obj, n, ok))
    fok = (np.isfinite(fflux) & (fband >= 0) & np.isfinite(ferr) & (ferr > 0)
           & (f.t < t_first[f.obj]))
    d_idx, f_idx = np.flatnonzero(ok), np.flatnonzero(fok)
    d_bounds = np.searchsorted(d.obj[d_idx], np.arange(n + 1))
    f_bounds = np.searchsorted(f.obj[f_idx], np.arange(n + 1))
    curves: list[bazin.LightCurve | None] = []
    last = slice(-bazin.MAX_POINTS, None)
    for i in range(n):
        di = d_idx[d_bounds[i]:d_bounds[i + 1]]
        fi = f_idx[f_bounds[i]:f_bounds[i + 1]][-bazin.N_FORCED_BEFORE:]
        if di.size == 0:
            curves.append(None)
            continue
        curves.append(bazin.LightCurve(
            np.concatenate((f.t[fi], d.t[di]))[last],
            WAVELENGTH_UM[np.concatenate((fband[fi], band[di]))][last],
            np.concatenate((fflux[fi], flux_c[di]))[last],
            np.concatenate((ferr[fi], err_c[di]))[last]))
    return curves


def _fits(alerts: Sequence[Alert], d: Points, band: np.ndarray, flux_c: np.ndarray,
          ebv: np.ndarray, dist: np.ndarray, z: np.ndarray, wanted: np.ndarray,
          out: Columns) -> None:
    n = len(alerts)
    cols = {name: np.full(n, np.nan) for name in
            ("BBBRiseRate", "BBBFallRate", "BBBTemp", "BBBPeakFlux", "BBBPeakMJD")}
    curves = _fit_curves(alerts, d, band, flux_c, ebv, wanted)
    for i, fit in enumerate(bazin.fit_light_curves(curves)):
        if fit is not None:
            for name, value in (("BBBRiseRate", fit.rise_rate), ("BBBFallRate", fit.fall_rate),
                                ("BBBTemp", fit.temp_k), ("BBBPeakFlux", fit.peak_flux),
                                ("BBBPeakMJD", fit.peak_mjd)):
                cols[name][i] = value
    out.update(cols)
    out["BBBPeakAbsMag"] = absolute_magnitude(cols["BBBPeakFlux"], dist, z)


def _fit_wanted(alerts: Sequence[Alert], context: Mapping | None) -> np.ndarray:
    """Objects to fit: those without a Sherlock class in ``context``, or SN/NT/ORPHAN."""
    wanted = np.ones(len(alerts), dtype=bool)
    if context:
        for i, alert in enumerate(alerts):
            entry = context.get(alert.object_id)
            cls = entry.get("classification") if isinstance(entry, Mapping) else None
            wanted[i] = cls is None or cls in FIT_CLASSES
    return wanted


def lsst_features(alerts: Sequence[Alert], context: Mapping[Any, Mapping] | None = None,
                  fits: bool = True) -> Columns:
    """Computed Rubin ``objects`` columns of each alert (module docstring), as arrays
    of length ``len(alerts)`` (NaN / None / -1 for counts where undefined)."""
    n = len(alerts)
    d = gather(alerts, "detections", TIME, DETECTION_NUM, BAND)
    band = lookup_codes(d.text["band"], _BAND_CODE)
    key = d.obj * NB + np.where(band >= 0, band, 0)
    out: Columns = {"diaObjectId": np.fromiter((a.object_id for a in alerts), object, n)}
    out["ra"], out["decl"] = _positions(alerts)
    first_obj = np.array([_object_number(a, ("firstDiaSourceMjdTai",)) for a in alerts])
    out["firstDiaSourceMjdTai"] = np.fmin(
        first_obj, groups.take(d.t, groups.first_index(d.obj, n)))
    out["lastDiaSourceMjdTai"] = groups.take(d.t, groups.last_index(d.obj, n))
    _counts(d, band, n, out)
    _fluxes(d, band, key, n, out)
    out["jump1"], out["jump2"] = jumps(d.obj, n, d.t, d.num["flux"], band)
    glon, out["glat"] = sky.galactic(out["ra"], out["decl"])
    out["ebv"] = sky.sfd_ebv(glon, out["glat"])
    out["hpx16"] = sky.healpix_index(out["ra"], out["decl"])
    flux_c = deredden(d.num["flux"], band, out["ebv"][d.obj])
    _pairs(out, *pair_colours(d.obj, n, d.t, flux_c, band))
    dist, z = context_distances([a.object_id for a in alerts], context)
    _absolute(d, flux_c, dist, z, n, out)
    if fits:
        _fits(alerts, d, band, flux_c, out["ebv"], dist, z, _fit_wanted(alerts, context), out)
    else:
        for name in ("BBBRiseRate", "BBBFallRate", "BBBTemp", "BBBPeakFlux", "BBBPeakMJD",
                     "BBBPeakAbsMag"):
            out[name] = np.full(n, np.nan)
    out["tns_name"] = np.full(n, None, dtype=object)
    return out
