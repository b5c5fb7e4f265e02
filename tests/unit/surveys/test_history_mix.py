"""The history mix of cloned Rubin alerts: the real wide survey's means, a deep-field tail,
sample alerts chosen and trimmed to reach it, reproducible from a seed."""
from __future__ import annotations

import numpy as np
import pytest

from solas.surveys.history_mix import (
    DEEP_MAX_PRIOR,
    DEEP_MIN_PRIOR,
    MEAN_DIA_SOURCES,
    MEAN_FORCED,
    HistoryDraws,
    choose_sources,
    clone_indices,
    draw_histories,
    history_lengths,
    in_time_order,
    plan_histories,
    summarise,
    trim_history,
)


def test_the_wide_mix_has_the_real_surveys_means_and_a_deep_tail_to_1000():
    draws = draw_histories("wide", 20_000, np.random.default_rng(2026))
    dia = draws.prior + 1
    assert dia.mean() == pytest.approx(13.5, abs=1.0)
    assert draws.forced.mean() == pytest.approx(2.2, abs=0.5)
    assert 900 <= draws.prior.max() <= DEEP_MAX_PRIOR
    assert 0.01 <= np.mean(draws.prior >= DEEP_MIN_PRIOR) <= 0.02  # the deep-field tail
    assert 0.15 <= np.mean(draws.prior == 0) <= 0.35  # first detections
    assert np.median(dia) < 10  # most alerts carry a short history
    assert (draws.forced <= draws.prior).all() and (draws.forced >= 0).all()


def test_the_mix_constants_give_the_target_means_exactly():
    big = draw_histories("wide", 2_000_000, np.random.default_rng(1))
    assert (big.prior + 1).mean() == pytest.approx(MEAN_DIA_SOURCES, rel=0.01)
    assert big.forced.mean() == pytest.approx(MEAN_FORCED, rel=0.01)


def test_the_deep_mix_is_the_tail_alone():
    draws = draw_histories("deep", 5000, np.random.default_rng(3))
    assert draws.prior.min() >= DEEP_MIN_PRIOR and draws.prior.max() <= DEEP_MAX_PRIOR
    assert draws.prior.max() > 950 and 300 < draws.prior.mean() < 500  # log-uniform


def test_the_same_seed_gives_the_same_draws_and_another_seed_others():
    a, b = (draw_histories("wide", 1000, np.random.default_rng(7)) for _ in range(2))
    c = draw_histories("wide", 1000, np.random.default_rng(8))
    assert (a.prior == b.prior).all() and (a.forced == b.forced).all()
    assert (a.prior != c.prior).any()
    prior, forced = np.array([0, 5, 1200, 40]), np.array([0, 1, 900, 2])
    p1, p2 = (plan_histories("wide", prior, forced, 3000, np.random.default_rng(9))
              for _ in range(2))
    assert all((x == y).all() for x, y in zip(p1, p2))


def test_unknown_mixes_and_asis_draws_are_refused():
    with pytest.raises(ValueError, match="must be one of wide, deep, asis, not 'narrow'"):
        draw_histories("narrow", 10, np.random.default_rng(0))
    with pytest.raises(ValueError, match="asis mix draws nothing"):
        draw_histories("asis", 10, np.random.default_rng(0))


def test_sources_are_chosen_among_alerts_with_enough_history():
    prior = np.array([0, 10, 500, 1000, 3])
    forced = np.array([0, 0, 600, 50, 3])
    draws = HistoryDraws(np.array([0, 5, 20, 400, 900, 2000, 3, 10]),
                         np.array([0, 0, 1, 100, 40, 0, 3, 5]))
    rng = np.random.default_rng(0)
    for _ in range(20):
        chosen = choose_sources(prior, forced, draws, rng)
        assert chosen[1] in (1, 2, 3) and chosen[2] in (2, 3)
        assert chosen[3] == 2 and chosen[4] == 3  # both prior and forced suffice
        assert chosen[5] == 3  # nobody has 2,000: the longest
        assert chosen[6] in (2, 3, 4)
        assert chosen[7] in (2, 3)  # 10 prior with 5 forced: not alert 1 (0 forced)
    spread = choose_sources(prior, forced, HistoryDraws(np.zeros(5000, int),
                                                        np.zeros(5000, int)), rng)
    assert np.bincount(spread, minlength=5).min() > 800  # uniform among all five


def test_the_plan_reaches_the_mix_when_the_sample_has_long_histories():
    rng = np.random.default_rng(11)
    prior = np.concatenate([np.zeros(60, int), rng.integers(1, 30, 20),
                            rng.integers(400, 1200, 60)])
    forced = np.where(prior > 300, prior, 0)
    plan = plan_histories("wide", prior, forced, 20_000, np.random.default_rng(5))
    assert (plan.prior <= prior[plan.source]).all() and (plan.forced <= forced[plan.source]).all()
    s = summarise(plan.prior + 1, plan.forced)
    assert s.mean_dia_sources == pytest.approx(13.5, abs=1.0)
    assert s.mean_forced == pytest.approx(2.2, abs=0.5)
    assert s.max_dia_sources > 900
    # clone k of each sample alert is its k-th use
    for i in (0, 70, 100):
        assert list(plan.clone[plan.source == i]) == list(range(int((plan.source == i).sum())))


def test_asis_plans_rounds_of_the_whole_sample():
    plan = plan_histories("asis", [3, 0, 7], [1, 0, 2], 7, np.random.default_rng(0))
    assert plan.source.tolist() == [0, 1, 2, 0, 1, 2, 0]
    assert plan.clone.tolist() == [0, 0, 0, 1, 1, 1, 2]
    assert plan.prior.tolist() == [3, 0, 7, 3, 0, 7, 3]


def test_clone_indices_count_earlier_uses():
    assert clone_indices(np.array([4, 4, 1, 4, 1])).tolist() == [0, 1, 0, 2, 1]


def record(times: list[float], forced_times: list[float]) -> dict:
    return {"diaSource": {"diaSourceId": 9, "midpointMjdTai": 100.0},
            "prvDiaSources": [{"diaSourceId": i, "midpointMjdTai": t}
                              for i, t in enumerate(times)],
            "prvDiaForcedSources": [{"diaForcedSourceId": i, "midpointMjdTai": t}
                                    for i, t in enumerate(forced_times)],
            "diaObject": {"diaObjectId": 1}}


def test_trimming_keeps_the_latest_sources():
    rec = record([5.0, 1.0, 3.0, 4.0], [2.0, 9.0, 1.0])
    ordered = in_time_order(rec)
    assert [s["midpointMjdTai"] for s in rec["prvDiaSources"]] == [5.0, 1.0, 3.0, 4.0]
    trimmed = trim_history(ordered, 2, 1)
    assert [s["midpointMjdTai"] for s in trimmed["prvDiaSources"]] == [4.0, 5.0]
    assert [s["midpointMjdTai"] for s in trimmed["prvDiaForcedSources"]] == [9.0]
    assert history_lengths(trimmed) == (2, 1) and history_lengths(rec) == (4, 3)
    assert trimmed["diaSource"] is rec["diaSource"] and len(rec["prvDiaSources"]) == 4
    none = trim_history(ordered, 0, 0)
    assert none["prvDiaSources"] == [] and none["prvDiaForcedSources"] == []
    assert trim_history(ordered, 10, 10)["prvDiaSources"] == ordered["prvDiaSources"]
    null = trim_history({**rec, "prvDiaForcedSources": None}, 1, 0)
    assert null["prvDiaForcedSources"] is None and history_lengths(null) == (1, 0)


def test_a_trimmed_diaobject_counts_the_kept_history():
    rec = record([5.0, 1.0, 3.0, 4.0], [])
    rec["diaObject"] = {"diaObjectId": 1, "nDiaSources": 5, "firstDiaSourceMjdTai": 1.0,
                        "r_psfFluxMean": 7.0}
    trimmed = trim_history(in_time_order(rec), 2, 0)
    assert trimmed["diaObject"] == {"diaObjectId": 1, "nDiaSources": 3,
                                    "firstDiaSourceMjdTai": 4.0, "r_psfFluxMean": 7.0}
    assert rec["diaObject"]["nDiaSources"] == 5  # the original is not changed
    untouched = trim_history(in_time_order(rec), 10, 0)
    assert untouched["diaObject"]["nDiaSources"] == 5


def test_the_summary_counts_the_mix():
    s = summarise([1, 1, 201, 3], [0, 0, 40, 1])
    assert s.alerts == 4 and s.mean_dia_sources == 51.5 and s.mean_forced == 10.25
    assert (s.max_dia_sources, s.max_forced, s.deep_share) == (201, 40, 0.25)
    assert summarise([], []).alerts == 0
