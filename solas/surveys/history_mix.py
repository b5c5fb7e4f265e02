"""How much history each cloned Rubin alert carries: a mix like the real wide survey.

A Rubin alert carries its object's previous detections (``prvDiaSources``) and forced
photometry (``prvDiaForcedSources``) of the past year, so its size and the work it costs
a broker (light-curve storage, features, fits) grow with its history. The real alerts
shipped as samples are mostly from deep fields (hundreds to ~1,700 prior sources) or
from the first nights (none), while the wide survey in mid-2026 averaged about
**13.5 diaSources per alert, counting the triggering one, and 2.2 forced sources**
(``data/SOURCES.md``). Cloning the samples as they are would measure the deep fields.

The ``wide`` mix draws, for each clone, the number of *prior* diaSources ``p`` (the
triggering one comes on top) from a two-part mixture:

* wide-field alerts (probability ``1 - DEEP_FRACTION``): a negative binomial with shape
  ``WIDE_SHAPE`` (0.5: over-dispersed, as real histories are: about a quarter of the
  alerts are first detections, most have a few, some tens) and a mean
  :data:`WIDE_MEAN_PRIOR` derived so that the overall mean is exactly
  ``MEAN_DIA_SOURCES - 1`` (7.9 prior diaSources);
* deep-field alerts (probability ``DEEP_FRACTION`` = 1.2%): log-uniform from
  ``DEEP_MIN_PRIOR`` = 100 to ``DEEP_MAX_PRIOR`` = 1,000 prior diaSources (mean 391),
  the tail of the deep drilling fields, as in the real deep-field samples;

and the number of forced sources as a binomial thinning of the prior detections,
``Binomial(p, FORCED_PER_PRIOR)`` with ``FORCED_PER_PRIOR = 2.2 / 12.5``: forced
photometry exists only for objects with a past, grows with it, and averages 2.2 per
alert overall. The ``deep`` mix is the deep-field part alone (a stress test);
``asis`` keeps every sample alert's real history.

Each clone then copies a sample alert whose real history is at least as long as the
draw, chosen uniformly among those with enough prior diaSources and forced sources
(else among those with enough prior diaSources, else among the longest), and keeps
the latest ``p`` prior diaSources and latest forced sources of it (by
``midpointMjdTai``): the mix is reached whatever the sample's own histories are, as
long as some sample alerts have long histories (the shipped ones reach ~1,700); a
sample alert shorter than its draw keeps what it has. The clones come in a random order,
so any stretch of them has the same mix; the k-th clone of each sample alert is clone
index k, so the k-th clones of the alerts of one real object make one synthetic object.
The ``diaObject`` summary keeps the real alert's means; its ``nDiaSources`` and
``firstDiaSourceMjdTai`` are set to the history kept.
Pure code: the random generator comes in, nothing is read or written.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from solas.surveys import lsst

MIXES = ("wide", "deep", "asis")
"""History mixes: the real wide survey, its deep-field tail alone, the samples as they are."""
MEAN_DIA_SOURCES = 13.5
"""Mean diaSources per alert in the wide survey, mid-2026, counting the triggering one."""
MEAN_FORCED = 2.2
"""Mean forced sources (``prvDiaForcedSources``) per alert in the wide survey, mid-2026."""
DEEP_FRACTION = 0.012
"""Share of alerts from the deep-field tail (1.2%)."""
DEEP_MIN_PRIOR = 100
"""Fewest prior diaSources of a deep-field alert."""
DEEP_MAX_PRIOR = 1000
"""Most prior diaSources of any drawn alert (the deep-field tail reaches ~1,000)."""
WIDE_SHAPE = 0.5
"""Shape (dispersion) of the negative binomial of wide-field prior diaSources: smaller is
more over-dispersed (more first detections and more long histories)."""
FORCED_PER_PRIOR = MEAN_FORCED / (MEAN_DIA_SOURCES - 1)
"""Chance that a prior detection epoch has a forced source in the alert (0.176)."""
_CHUNK = 10_000


def _deep_mean_prior() -> float:
    """Mean of the integer log-uniform deep-field draw (floor of exp(U[ln min, ln(max+1))))."""
    k = np.arange(DEEP_MIN_PRIOR, DEEP_MAX_PRIOR + 1, dtype=float)
    p = np.log1p(1.0 / k) / math.log((DEEP_MAX_PRIOR + 1) / DEEP_MIN_PRIOR)
    return float((k * p).sum())


DEEP_MEAN_PRIOR = _deep_mean_prior()
"""Mean prior diaSources of a deep-field alert (about 391)."""
WIDE_MEAN_PRIOR = ((MEAN_DIA_SOURCES - 1) - DEEP_FRACTION * DEEP_MEAN_PRIOR) / (1 - DEEP_FRACTION)
"""Mean prior diaSources of a wide-field alert (about 7.9), so the overall mean is
``MEAN_DIA_SOURCES - 1``."""


class HistoryDraws(NamedTuple):
    """Drawn history lengths, one per clone."""

    prior: np.ndarray
    """Prior diaSources (``prvDiaSources``) wanted; the alert has one more diaSource."""
    forced: np.ndarray
    """Forced sources (``prvDiaForcedSources``) wanted."""


class HistoryPlan(NamedTuple):
    """Which sample alert each clone copies and how much of its history it keeps."""

    source: np.ndarray
    """Index of the sample alert copied."""
    clone: np.ndarray
    """Clone index: how many clones of that sample alert come before this one (clone k of
    every alert of one real object makes one synthetic object)."""
    prior: np.ndarray
    """Prior diaSources kept (at most what the sample alert has)."""
    forced: np.ndarray
    """Forced sources kept (at most what the sample alert has)."""


class MixSummary(NamedTuple):
    """The history mix actually produced."""

    alerts: int
    mean_dia_sources: float
    """Mean diaSources per alert, counting the triggering one."""
    mean_forced: float
    """Mean forced sources per alert."""
    max_dia_sources: int
    max_forced: int
    deep_share: float
    """Share of alerts with at least ``DEEP_MIN_PRIOR`` prior diaSources."""


def check_mix(mix: str) -> str:
    """``mix`` if it is one of :data:`MIXES`, else ``ValueError``."""
    if mix not in MIXES:
        raise ValueError(f"history mix must be one of {', '.join(MIXES)}, not {mix!r}")
    return mix


def _deep_prior(n: int, rng: np.random.Generator) -> np.ndarray:
    u = rng.uniform(math.log(DEEP_MIN_PRIOR), math.log(DEEP_MAX_PRIOR + 1), n)
    return np.minimum(np.floor(np.exp(u)).astype(np.int64), DEEP_MAX_PRIOR)


def draw_histories(mix: str, n: int, rng: np.random.Generator) -> HistoryDraws:
    """History lengths of ``n`` clones under ``mix`` (``wide`` or ``deep``), drawn from
    ``rng`` (the same generator state gives the same draws)."""
    if check_mix(mix) == "asis":
        raise ValueError("the asis mix draws nothing: every alert keeps its own history")
    if mix == "deep":
        prior = _deep_prior(n, rng)
    else:
        deep = rng.uniform(size=n) < DEEP_FRACTION
        p = WIDE_SHAPE / (WIDE_SHAPE + WIDE_MEAN_PRIOR)
        prior = np.minimum(rng.negative_binomial(WIDE_SHAPE, p, n), DEEP_MAX_PRIOR)
        prior[deep] = _deep_prior(int(deep.sum()), rng)
    forced = rng.binomial(prior, FORCED_PER_PRIOR)
    return HistoryDraws(prior.astype(np.int64), forced.astype(np.int64))


def choose_sources(available_prior: np.ndarray, available_forced: np.ndarray,
                   draws: HistoryDraws, rng: np.random.Generator) -> np.ndarray:
    """For each draw, the index of a sample alert to copy, uniformly among those whose
    real history has at least the drawn prior diaSources and forced sources; else among
    those with enough prior diaSources; else among those with the most."""
    prior = np.asarray(available_prior, dtype=np.int64)
    forced = np.asarray(available_forced, dtype=np.int64)
    if prior.size == 0:
        raise ValueError("no sample alerts to choose from")
    out = np.empty(len(draws.prior), dtype=np.int64)
    longest = prior == prior.max()
    for lo in range(0, len(out), _CHUNK):
        want_p = draws.prior[lo:lo + _CHUNK, None]
        want_f = draws.forced[lo:lo + _CHUNK, None]
        enough_p = prior[None, :] >= want_p
        ok = enough_p & (forced[None, :] >= want_f)
        none = ~ok.any(axis=1)
        ok[none] = enough_p[none]
        none = ~ok.any(axis=1)
        ok[none] = longest
        counts = ok.sum(axis=1)
        pick = np.floor(rng.uniform(size=len(counts)) * counts).astype(np.int64)
        out[lo:lo + _CHUNK] = np.argmax(np.cumsum(ok, axis=1) > pick[:, None], axis=1)
    return out


def clone_indices(source: np.ndarray) -> np.ndarray:
    """For each entry of ``source``, how many earlier entries have the same value."""
    out = np.empty(len(source), dtype=np.int64)
    seen: dict[int, int] = {}
    for j, s in enumerate(source.tolist()):
        out[j] = seen.get(s, 0)
        seen[s] = out[j] + 1
    return out


def plan_histories(mix: str, available_prior: Sequence[int], available_forced: Sequence[int],
                   n: int, rng: np.random.Generator) -> HistoryPlan:
    """The plan of ``n`` clones of sample alerts whose real histories have
    ``available_prior`` prior diaSources and ``available_forced`` forced sources.

    ``wide``/``deep``: history lengths drawn (:func:`draw_histories`), sample alerts
    chosen to fit them (:func:`choose_sources`) in a random order, so any stretch of the
    clones has the same mix. ``asis``: rounds of the whole sample in order (clone k of
    every alert in round k), each keeping its whole history."""
    prior = np.asarray(available_prior, dtype=np.int64)
    forced = np.asarray(available_forced, dtype=np.int64)
    if len(prior) != len(forced):
        raise ValueError("available_prior and available_forced differ in length")
    if len(prior) == 0:
        raise ValueError("no sample alerts to clone")
    if check_mix(mix) == "asis":
        index = np.arange(n, dtype=np.int64)
        source = index % len(prior)
        return HistoryPlan(source, index // len(prior), prior[source], forced[source])
    draws = draw_histories(mix, n, rng)
    source = choose_sources(prior, forced, draws, rng)
    return HistoryPlan(source, clone_indices(source), np.minimum(draws.prior, prior[source]),
                       np.minimum(draws.forced, forced[source]))


def _history_keys(record: dict[str, Any]) -> tuple[str | None, str | None]:
    keys = lsst.parts(record)
    return keys.get("sources"), keys.get("forced")


def history_lengths(record: dict[str, Any]) -> tuple[int, int]:
    """(prior diaSources, forced sources) a Rubin record carries."""
    sources, forced = _history_keys(record)
    return (len(record.get(sources) or ()) if sources else 0,
            len(record.get(forced) or ()) if forced else 0)


def _time(row: Any) -> float:
    if isinstance(row, dict):
        value = row.get("midpointMjdTai", row.get("midPointTai"))
        if isinstance(value, (int, float)) and not isinstance(value, bool) \
                and math.isfinite(value):
            return float(value)
    return -math.inf


def in_time_order(record: dict[str, Any]) -> dict[str, Any]:
    """Copy of a Rubin record with its prior diaSources and forced sources sorted by time
    (``midpointMjdTai``, stable; rows without a time first); the record itself is kept."""
    new = dict(record)
    for key in _history_keys(record):
        rows = record.get(key) if key else None
        if key and rows:
            new[key] = sorted(rows, key=_time)
    return new


def trim_history(record: dict[str, Any], prior: int, forced: int) -> dict[str, Any]:
    """Copy of a Rubin record (histories in time order, :func:`in_time_order`) keeping
    only its latest ``prior`` prior diaSources and ``forced`` forced sources (a null
    history stays null).  A trimmed record's ``diaObject`` gets the ``nDiaSources`` and
    ``firstDiaSourceMjdTai`` of the history it kept (if it has those fields)."""
    new = dict(record)
    for key, keep in zip(_history_keys(record), (prior, forced)):
        rows = record.get(key) if key else None
        if key and rows is not None and len(rows) > keep:
            new[key] = rows[len(rows) - max(keep, 0):]
    sources = _history_keys(record)[0]
    if sources and new.get(sources) is not record.get(sources):
        _summarise_kept(new, new[sources])
    return new


def _summarise_kept(record: dict[str, Any], prior: list[Any]) -> None:
    """Set the diaObject's count and first time of ``record`` (in place; the diaObject is
    copied) to its kept prior diaSources plus the triggering one."""
    keys = lsst.parts(record)
    obj = record.get(keys.get("diaObject", ""))
    if not isinstance(obj, dict):
        return
    obj = record[keys["diaObject"]] = dict(obj)
    trigger = record.get(keys.get("diaSource", ""))
    times = [t for t in map(_time, [*prior, trigger]) if math.isfinite(t)]
    if "nDiaSources" in obj:
        obj["nDiaSources"] = len(prior) + 1
    if "firstDiaSourceMjdTai" in obj and times:
        obj["firstDiaSourceMjdTai"] = min(times)


def summarise(dia_sources: Sequence[int], forced: Sequence[int]) -> MixSummary:
    """The mix of alerts carrying ``dia_sources`` diaSources each (counting the triggering
    one) and ``forced`` forced sources."""
    n = np.asarray(dia_sources, dtype=np.int64)
    f = np.asarray(forced, dtype=np.int64)
    if n.size == 0:
        return MixSummary(0, float("nan"), float("nan"), 0, 0, float("nan"))
    return MixSummary(int(n.size), float(n.mean()), float(f.mean()), int(n.max()),
                      int(f.max()), float(np.mean(n - 1 >= DEEP_MIN_PRIOR)))
