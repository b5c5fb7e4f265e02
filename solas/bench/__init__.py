"""Every benchmark of Solas, each reachable as ``solas bench --stage ...``
(:mod:`solas.bench.run`):

- :mod:`~solas.bench.ingest`, :mod:`~solas.bench.sherlock`, :mod:`~solas.bench.filter`,
  :mod:`~solas.bench.features`: one stage at a time;
- :mod:`~solas.bench.end_to_end` (``--stage all``): the whole pipeline under a paced replay,
  with :mod:`~solas.bench.timeline` (its samples and their statistics) and
  :mod:`~solas.bench.plot` (its figures);
- :mod:`~solas.bench.portal`: the portal and API; :mod:`~solas.bench.decode`: decoding,
  no services;
- :mod:`~solas.bench.common`: what they share (settings apart from the deployment, cloned
  alerts, CPU and memory per process); :mod:`~solas.bench.workload`: the standard workload
  of watchlists, watchmaps, filters and annotators.

Benchmarks are run by hand; their figures go to BENCHMARKS.md.
"""
