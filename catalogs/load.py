"""``solas catalogs load``: stream the shipped catalogues into MariaDB with progress."""
from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

from tqdm import tqdm

from catalogs import loaders
from catalogs.sources import CATALOGUES, catalogue_path, read_catalogue
from catalogs.store import (LoadResult, catalogue_batches, context_version, file_version,
                            read_catalogues, read_tns, write_catalogue, write_tns)
from catalogs.tns import iter_tns
from solas.features.sky import healpix_index
from solas.settings import Settings
from solas.stores import mariadb

NED_D = "ned_d"


def _direct_distances(settings: Settings, names: list[str]) -> dict[str, float]:
    """Median NED-D distances by normalised galaxy name (NED-D is small: read whole)."""
    if NED_D not in CATALOGUES:
        return {}
    rows = read_catalogue(NED_D, catalogue_path(NED_D, settings.data_dir))
    return loaders.median_direct_distances(rows)


def load_catalogues(settings: Settings, names: Iterable[str] | None = None,
                    progress: bool = True, batch_rows: int = 50_000) -> list[LoadResult]:
    """Load the named catalogues (default: all) into MariaDB, replacing earlier loads."""
    wanted = list(CATALOGUES) if not names else list(names)
    unknown = sorted(set(wanted) - set(CATALOGUES))
    if unknown:
        raise SystemExit(f"unknown catalogues {unknown}; known: {', '.join(CATALOGUES)}")
    distances = _direct_distances(settings, wanted)
    results = []
    with mariadb.connect(settings) as conn, conn.cursor() as cursor:
        for name in wanted:
            path = catalogue_path(name, settings.data_dir)
            start, version = time.perf_counter(), file_version(path)
            with tqdm(desc=f"catalogue {name}", unit=" rows", disable=not progress) as bar:
                rows = write_catalogue(cursor, name, catalogue_batches(
                    name, settings.data_dir, distances, batch_rows), version, healpix_index,
                    bar.update)
            results.append(LoadResult(name, rows, version,
                                      time.perf_counter() - start))
    return results


def load_tns(settings: Settings, path: Path, progress: bool = True) -> int:
    """Add or update the TNS public objects of the CSV at ``path`` (the TNS download,
    plain or gzipped) in ``crossmatch_tns``; returns the number of rows read."""
    with mariadb.connect(settings) as conn, conn.cursor() as cursor, \
            tqdm(desc=f"TNS {path.name}", unit=" rows", disable=not progress) as bar:
        return write_tns(cursor, iter_tns(path), bar.update)


def load_context(settings: Settings):
    """The sherlock stage's context: catalogue index and TNS index from MariaDB."""
    from catalogs.classifier import build_index
    from catalogs.tns import build_tns_index
    from solas.processors.sherlock import Context

    with mariadb.connect(settings) as conn, conn.cursor() as cursor:
        catalogues = read_catalogues(cursor)
        tns = read_tns(cursor)
    return Context(build_index(catalogues), build_tns_index(tns))


def current_version(settings: Settings) -> str:
    """:func:`catalogs.store.context_version` of the deployment's database."""
    with mariadb.connect(settings) as conn, conn.cursor() as cursor:
        return context_version(cursor)
