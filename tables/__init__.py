"""The stream state of the topology, in one place.

- :mod:`tables.annotations`: the faust table of each object's latest annotation per
  annotator (RocksDB-backed, changelog-replicated, co-partitioned with the alerts by object
  id) and its records.
- :mod:`tables.sky`: every active watchlist and watchmap, held whole by every filter worker,
  kept current from the ``watchlist-changes`` / ``watchmap-changes`` topics;
  :mod:`tables.sky_store`: its RocksDB copy and record layout, so a restarted worker starts
  from disk.

Why the sky state is not a faust ``GlobalTable``: every worker must see every cone and
every map whatever partitions it owns, and with several workers a ``GlobalTable`` is known
not to replicate to all of them (faust-streaming issue #283).  Each worker instead reads
the change topics in full with a consumer of its own (no group), as a ``GlobalTable``'s
changelog reader would, and reloads what changed from MariaDB, the source of truth.

Agents and processors import this package; nothing in it imports agents.
"""
