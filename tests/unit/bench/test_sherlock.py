"""The classifier benchmark runs end to end and reports consistent figures."""
from __future__ import annotations

import numpy as np

from solas.bench.sherlock import bench_classifier, bench_positions


def test_bench_classifier_small(data_dir):
    result = bench_classifier(3_000, data_dir, batch_size=1_000,
                              names=("openngc", "3hsp", "yale_bsc5"))
    assert result.alerts == 3_000 == sum(result.classifications.values())
    assert result.sources == 14_033 + 2_013 + 9_096
    assert result.alerts_per_s > 0 and result.build_s > 0 and result.index_mb > 0
    assert {"SN", "BS", "ORPHAN"} <= set(result.classifications)


def test_bench_positions_half_near_sources(sherlock_index):
    ra, dec = bench_positions(sherlock_index, 1_000, np.random.default_rng(0))
    assert ra.shape == dec.shape == (1_000,)
    assert ((ra >= 0) & (ra < 360)).all() and (np.abs(dec) <= 90).all()
    near = sherlock_index.sky.match_positions(ra[500:], dec[500:])
    assert len(np.unique(near.position)) > 100
