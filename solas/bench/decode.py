"""``solas bench --stage decode``: decode throughput of ``solas.surveys`` on the real
sample alerts, one core, no services.

Reads ``<data_dir>/alerts``. Rates are
alerts per second of CPU time of this process (best and median of several passes), so
other load on the machine does not distort them.
"""
from __future__ import annotations

import statistics
import time
from typing import Callable, Sequence

import numpy as np

from solas.settings import Settings
from solas.surveys import (
    DecodeError,
    clone_record,
    decode_packet,
    encode_packet,
    iter_alert_paths,
    normalise,
    read_alert_file,
)


def rate(fn: Callable, items: Sequence, passes: int = 10) -> tuple[float, float]:
    """(best, median) items per CPU second of ``fn`` over ``items``, after one warm-up."""
    for item in items:
        fn(item)
    rates = []
    for _ in range(passes):
        start = time.process_time()
        for item in items:
            fn(item)
        rates.append(len(items) / max(time.process_time() - start, 1e-9))
    return max(rates), statistics.median(rates)


def _decode(survey: str) -> Callable[[bytes], None]:
    def run(packet: bytes) -> None:
        try:
            normalise(decode_packet(packet, survey), survey)
        except DecodeError:  # Rubin solar-system alerts
            pass
    return run


def bench_decode(settings: Settings) -> dict:
    """Decode+normalise and clone+encode rates (alerts per CPU second: best and median of
    several passes) of the real ZTF packets and Rubin v10 packets; returns the results."""
    alerts = settings.data_dir / "alerts"
    ztf = [p.read_bytes() for p in iter_alert_paths([alerts / "ztf"]) if p.suffix == ".avro"]
    raws = read_alert_file(alerts / "lsst/real-v10/part-2-918301.avro")
    lsst = [encode_packet(r) for r in raws]
    rows = sum(len(r.record["prvDiaSources"] or []) + len(r.record["prvDiaForcedSources"] or [])
               for r in raws) / len(raws)
    rng = np.random.default_rng(0)
    ztf_raws = [decode_packet(p, "ztf") for p in ztf]
    objects = [r for r in raws if (r.record.get("diaObject") or {}).get("diaObjectId")]
    rates = {
        "ztf_decode": rate(_decode("ztf"), ztf),
        "lsst_decode": rate(_decode("lsst"), lsst),
        "ztf_clone_encode": rate(lambda r: encode_packet(clone_record(r, "ztf", 1, rng)),
                                 ztf_raws, 3),
        "lsst_clone_encode": rate(lambda r: encode_packet(clone_record(r, "lsst", 1, rng)),
                                  objects, 3),
    }
    return {"stage": "decode", "ztf_packets": len(ztf),
            "ztf_mean_kb": round(sum(map(len, ztf)) / len(ztf) / 1e3, 1),
            "lsst_packets": len(lsst),
            "lsst_mean_kb": round(sum(map(len, lsst)) / len(lsst) / 1e3, 1),
            "lsst_history_rows": round(rows, 1),
            "alerts_per_cpu_s": {k: {"best": round(best), "median": round(median)}
                                 for k, (best, median) in rates.items()},
            "date": time.strftime("%Y-%m-%d")}
