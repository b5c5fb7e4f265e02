"""ZTF light-curve features (the Lasair-ZTF set): the computed columns of the ZTF
``objects`` table.

Inputs are the alert's detections (``prv_candidates`` with a ``candid`` + the
``candidate``): ``jd``, ``fid`` (1 g, 2 r, 3 i), ``magpsf``/``sigmapsf`` (mag),
``isdiffpos`` (``'t'``/``'1'`` positive), ``ra``/``dec``, ``rb``/``drb``, and from the
latest candidate ``sgmag1``, ``srmag1``, ``sgscore1``, ``distpsnr1``, ``ssnamenr``.
Times stay JD as in the column names; NaN magnitudes are ignored.

The user-facing definition of each column (units, the points it uses, exactly when it
is NULL, how it differs from Lasair's) is its entry in the column spec,
:func:`solas.schema.tables.mariadb_tables`; in short:

- ``ncand``: detections; ``ramean``, ``decmean``, ``rastd``, ``decstd``: see
  :func:`solas.features.sky.mean_position` (deg; scatters in arcsec, NaN from fewer
  than two points).
- ``maggmin``, ``maggmax``, ``maggmean`` (and r): of all g (r) detections; ``gmag``,
  ``rmag``: the latest.  ``jdgmax``, ``jdrmax``, ``jdmax``, ``jdmin``: detection times.
- ``dmdt_g`` (``dmdt_r``): ``(m_prev - m_last) / (jd_last - jd_prev)`` over the last two
  positive detections in the band, mag/day (positive = brightening); ``dmdt_*_err``
  ``sqrt(sigma_last^2 + sigma_prev^2) / (jd_last - jd_prev)``.  NaN when the two are
  less than ``min_rate_interval_s`` apart (no rate over a near-zero interval).
- ``g_minus_r``, ``jd_g_minus_r``: on the latest night having positive detections in
  both g and r, the latest g minus the latest r magnitude of that night, and the JD of
  the later of the two.  Nights run from local noon to noon at Palomar.
- ``glatmean``, ``glonmean``: galactic coordinates of the mean position; ``hpx16`` its
  HEALPix index.
- ``sgmag1``, ``srmag1``, ``sgscore1``, ``distpsnr1``: the latest detection carrying
  them (ZTF's -999 "no value" becomes NULL); ``ssnamenr``: the latest detection's
  (``'null'`` becomes NULL).
- ``ncandgp``, ``ncandgp_7``, ``ncandgp_14``: good positive detections (``rb`` or
  ``drb`` > 0.75, as Lasair-ZTF), all / less than 7 / less than 14 days before ``jdmax``;
  -1 (NULL) when the object has positive detections but none carries a score, so
  none can be judged.
- ``mag_g02`` ... ``mag_r28``: exponential moving averages of ``magpsf`` per band with
  time scales tau = 2, 8, 28 days, over irregular times:
  ``ema_1 = m_1``, ``ema_k = w_k ema_(k-1) + (1 - w_k) m_k`` with
  ``w_k = exp(-(t_k - t_(k-1)) / tau)``, evaluated at the band's latest detection.  In
  closed form ``ema = sum_k c_k exp(-(t_last - t_k) / tau) m_k`` with ``c_1 = 1`` and
  ``c_k = 1 - w_k``, which is how it is computed.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from solas.features import groups, sky
from solas.features.points import Points, gather, lookup_codes
from solas.surveys import Alert

NB = 3
BANDS = "gri"
"""ZTF bands by ``fid - 1``."""
LATEST_FIELDS = ("sgmag1", "srmag1", "sgscore1", "distpsnr1")
NUM = {name: (name,) for name in
       ("fid", "magpsf", "sigmapsf", "ra", "dec", "rb", "drb", *LATEST_FIELDS)}
TEXT = {"isdiffpos": ("isdiffpos",), "ssnamenr": ("ssnamenr",)}
POSITIVE = {"t": 1, "1": 1, True: 1, "f": 0, "0": 0, False: 0}
GOOD_SCORE = 0.75
EMA_TAUS_DAYS = (2, 8, 28)
PALOMAR_LON_DEG = -116.8656
MISSING = -99.0
"""Catalogue values at or below this are ZTF's "no value" (-999)."""
MIN_RATE_INTERVAL_S = 300.0
"""Default shortest interval, s, a rate (``dmdt_*``) is computed over (settings:
``SOLAS_FEATURES_MIN_RATE_INTERVAL``)."""
SECONDS_PER_DAY = 86400.0

Columns = dict[str, np.ndarray]


def nights(jd: np.ndarray) -> np.ndarray:
    """Night number (local noon to noon at Palomar) of each JD."""
    return np.floor(jd - 2400000.5 + PALOMAR_LON_DEG / 360.0 + 0.5)


def _band_stats(d: Points, band: np.ndarray, key: np.ndarray, n: int, out: Columns) -> None:
    mag = d.num["magpsf"]
    ok = np.isfinite(mag) & (band >= 0)
    lo = groups.extreme(key, n * NB, mag, False, ok).reshape(n, NB)
    hi = groups.extreme(key, n * NB, mag, True, ok).reshape(n, NB)
    mean = groups.means(key, n * NB, mag, ok).reshape(n, NB)
    latest = groups.take(mag, groups.last_index(key, n * NB, ok)).reshape(n, NB)
    jdmax = groups.extreme(key, n * NB, d.t, True, band >= 0).reshape(n, NB)
    for i, b in enumerate("gr"):
        out[f"mag{b}min"], out[f"mag{b}max"], out[f"mag{b}mean"] = lo[:, i], hi[:, i], mean[:, i]
        out[f"{b}mag"], out[f"jd{b}max"] = latest[:, i], jdmax[:, i]


def _dmdt(d: Points, key: np.ndarray, ok: np.ndarray, n: int, min_dt_days: float,
          out: Columns) -> None:
    last = groups.last_index(key, n * NB, ok)
    pos = np.arange(key.size)
    prev = groups.last_index(key, n * NB, ok & (pos != groups.take(last, key, -1)))
    mag, sig, jd = d.num["magpsf"], d.num["sigmapsf"], d.t
    with np.errstate(invalid="ignore", divide="ignore"):
        dt = groups.take(jd, last) - groups.take(jd, prev)
        dt = np.where((dt > 0) & (dt >= min_dt_days), dt, np.nan)
        dmdt = (groups.take(mag, prev) - groups.take(mag, last)) / dt
        err = np.hypot(groups.take(sig, last), groups.take(sig, prev)) / dt
    for i, b in enumerate("gr"):
        out[f"dmdt_{b}"] = dmdt.reshape(n, NB)[:, i]
        out[f"dmdt_{b}_err"] = err.reshape(n, NB)[:, i]


def _colour(d: Points, band: np.ndarray, ok: np.ndarray, n: int, out: Columns) -> None:
    """``g_minus_r`` on the latest night with positive g and r."""
    use = np.flatnonzero(ok & (band <= 1))
    night = nights(d.t[use])
    pair_key = d.obj[use] * (2 ** 22) + (night - (night.min() if use.size else 0))
    night_keys, group = np.unique(pair_key, return_inverse=True)
    m = night_keys.size
    last_g = groups.last_index(group, m, band[use] == 0)
    last_r = groups.last_index(group, m, band[use] == 1)
    both = (last_g >= 0) & (last_r >= 0)
    owner = (night_keys // (2 ** 22)).astype(np.int64)
    chosen = groups.last_index(owner, n, both)
    g_at = groups.take(use, groups.take(last_g, chosen, -1), -1)
    r_at = groups.take(use, groups.take(last_r, chosen, -1), -1)
    mag = d.num["magpsf"]
    out["g_minus_r"] = groups.take(mag, g_at) - groups.take(mag, r_at)
    out["jd_g_minus_r"] = np.fmax(groups.take(d.t, g_at), groups.take(d.t, r_at))


def _ema(d: Points, band: np.ndarray, key: np.ndarray, n: int, out: Columns) -> None:
    mag = d.num["magpsf"]
    use = np.flatnonzero(np.isfinite(mag) & (band >= 0) & (band <= 1))
    use = use[np.lexsort((d.t[use], key[use]))]
    k, t, m = key[use], d.t[use], mag[use]
    prev = groups.previous_in_group(k)
    dt = t - groups.take(t, prev)
    t_last = groups.take(t, groups.last_index(k, n * NB))
    for tau in EMA_TAUS_DAYS:
        c = np.where(prev < 0, 1.0, -np.expm1(-dt / tau))
        w = c * np.exp(-(t_last[k] - t) / tau)
        with np.errstate(invalid="ignore", divide="ignore"):
            ema = (groups.sums(k, n * NB, w * m) / groups.sums(k, n * NB, w)).reshape(n, NB)
        for i, b in enumerate("gr"):
            out[f"mag_{b}{tau:02d}"] = ema[:, i]


def _latest_candidate(d: Points, n: int, out: Columns) -> None:
    for name in LATEST_FIELDS:
        values = d.num[name]
        value = groups.take(values, groups.last_index(d.obj, n, np.isfinite(values)))
        out[name] = np.where(value > MISSING, value, np.nan)
    ss = groups.take(d.text["ssnamenr"], groups.last_index(d.obj, n), None)
    out["ssnamenr"] = np.fromiter(
        (s if isinstance(s, str) and s and s != "null" else None for s in ss), object, n)


def _good_positive(d: Points, positive: np.ndarray, n: int, jdmax: np.ndarray,
                   out: Columns) -> None:
    """``ncandgp*``; -1 (NULL) where positive detections exist but none has a score."""
    rb, drb = d.num["rb"], d.num["drb"]
    with np.errstate(invalid="ignore"):
        good = positive & ((rb > GOOD_SCORE) | (drb > GOOD_SCORE))
        age = jdmax[d.obj] - d.t
    scored = positive & (np.isfinite(rb) | np.isfinite(drb))
    unknown = (groups.counts(d.obj, n, positive) > 0) & (groups.counts(d.obj, n, scored) == 0)
    for name, mask in (("ncandgp", good), ("ncandgp_7", good & (age < 7.0)),
                       ("ncandgp_14", good & (age < 14.0))):
        out[name] = np.where(unknown, -1, groups.counts(d.obj, n, mask))


def ztf_features(alerts: Sequence[Alert],
                 min_rate_interval_s: float = MIN_RATE_INTERVAL_S) -> Columns:
    """Computed ZTF ``objects`` columns of each alert (module docstring), as arrays of
    length ``len(alerts)`` (NaN / None / -1 for counts where undefined).

    ``min_rate_interval_s``: shortest interval between two detections, s, that a rate
    (``dmdt_*``) is computed over; a closer pair gives NaN."""
    n = len(alerts)
    d = gather(alerts, "detections", ("jd",), NUM, TEXT)
    fid = d.num["fid"]
    band = np.where(np.isin(fid, (1, 2, 3)), np.nan_to_num(fid) - 1, -1).astype(np.int64)
    key = d.obj * NB + np.where(band >= 0, band, 0)
    positive = lookup_codes(d.text["isdiffpos"], POSITIVE) == 1
    out: Columns = {"objectId": np.fromiter((a.object_id for a in alerts), object, n)}
    out["ncand"] = groups.counts(d.obj, n)
    out["ramean"], out["decmean"], out["rastd"], out["decstd"] = sky.mean_position(
        d.obj, n, d.num["ra"], d.num["dec"])
    _band_stats(d, band, key, n, out)
    out["jdmax"] = groups.extreme(d.obj, n, d.t, True)
    out["jdmin"] = groups.extreme(d.obj, n, d.t, False)
    ok_pos = positive & np.isfinite(d.num["magpsf"]) & (band >= 0)
    _dmdt(d, key, ok_pos, n, min_rate_interval_s / SECONDS_PER_DAY, out)
    _colour(d, band, ok_pos, n, out)
    out["glonmean"], out["glatmean"] = sky.galactic(out["ramean"], out["decmean"])
    out["hpx16"] = sky.healpix_index(out["ramean"], out["decmean"])
    _latest_candidate(d, n, out)
    _good_positive(d, positive, n, out["jdmax"], out)
    _ema(d, band, key, n, out)
    out["tns_name"] = np.full(n, None, dtype=object)
    return out
