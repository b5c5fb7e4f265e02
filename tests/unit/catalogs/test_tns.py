"""TNS public-objects parsing (real rows, the full-download layout with its date line,
zipped) and the 1.5" positional match."""
from __future__ import annotations

import csv
import gzip
import io
import zipfile
from datetime import datetime

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy_healpix import HEALPix

from catalogs.model import CatalogueFormatError
from catalogs.tns import TnsRow, build_tns_index, iter_tns, match_tns
from solas.schema.tables import mariadb_tables


@pytest.fixture(scope="module")
def tns_text(data_dir) -> str:
    with gzip.open(data_dir / "catalogs" / "tns_raw.csv.gz", "rt", newline="") as handle:
        return handle.read()


def read_all(path) -> list[TnsRow]:
    return [row for batch in iter_tns(path) for row in batch]


def test_rows_are_the_crossmatch_tns_columns():
    spec = next(t for t in mariadb_tables("ztf") if t.name == "crossmatch_tns")
    assert list(TnsRow._fields) == spec.column_names


def test_real_rows(data_dir, tns_text):
    rows = read_all(data_dir / "catalogs" / "tns_raw.csv.gz")
    oracle = list(csv.DictReader(io.StringIO(tns_text)))
    assert len(rows) == len(oracle) == 3
    for row, ref in zip(rows, oracle):
        assert (row.tns_name, row.tns_prefix) == (ref["name"], ref["name_prefix"])
        assert (row.ra, row.decl) == (float(ref["ra"]), float(ref["declination"]))
        assert row.internal_names == ref["internal_names"]
        assert row.discovery_filter == ref["filter"] and row.source_group == ref["source_group"]
    sn = rows[1]
    assert (sn.tns_name, sn.type, sn.z, sn.discovery_mag) == ("2022and", "SN II", 0.043, 18.965)
    assert sn.discovery_date == datetime(2022, 1, 27, 10, 49, 26, 400000)
    assert rows[0].type is None and rows[0].z is None
    grid = HEALPix(nside=2 ** 16, order="nested")
    for row in rows:
        lon, lat = grid.healpix_to_lonlat([row.hpx16])
        centre = SkyCoord(lon[0], lat[0])
        assert centre.separation(SkyCoord(row.ra * u.deg, row.decl * u.deg)) < 5 * u.arcsec


def test_full_download_layout_plain_and_zipped(tmp_path, tns_text, data_dir):
    expected = read_all(data_dir / "catalogs" / "tns_raw.csv.gz")
    dated = '"2026-02-10 00:00:00"\n' + tns_text
    plain = tmp_path / "tns_public_objects.csv"
    plain.write_text(dated)
    assert read_all(plain) == expected
    zipped = tmp_path / "tns_public_objects.csv.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("tns_public_objects.csv", dated)
    assert read_all(zipped) == expected
    assert [len(b) for b in iter_tns(plain, batch_rows=2)] == [2, 1]


def test_malformed_row_names_its_line(tmp_path, tns_text):
    lines = tns_text.splitlines(keepends=True)
    lines[2] = lines[2].replace(",150.02755416,3.75714275086,", ",150.02755416,93.7,", 1)
    path = tmp_path / "tns.csv"
    path.write_text('"2026-02-10 00:00:00"\n' + "".join(lines))
    with pytest.raises(CatalogueFormatError) as info:
        read_all(path)
    assert info.value.line == 4 and info.value.field == "declination"
    assert "tns.csv line 4" in str(info.value)


def test_match_tns_within_synonym_radius(data_dir):
    rows = read_all(data_dir / "catalogs" / "tns_raw.csv.gz")
    index = build_tns_index(rows)
    sn = rows[1]
    near = SkyCoord(sn.ra * u.deg, sn.decl * u.deg).directional_offset_by(
        [0, 90, 180] * u.deg, [1.0, 1.49, 1.6] * u.arcsec)
    ra = np.concatenate([near.ra.deg, [rows[2].ra, 0.0]])
    dec = np.concatenate([near.dec.deg, [rows[2].decl, 0.0]])
    matches = match_tns(ra, dec, index)
    assert matches.tns_name == ["2022and", "2022and", None, "2018lzf", None]
    assert np.allclose(matches.separation_arcsec[:2], [1.0, 1.49])
    assert np.isnan(matches.separation_arcsec[[2, 4]]).all()


def test_match_tns_prefers_the_nearest():
    rows = [TnsRow("2030a", "AT", 10.0, 0.0, None, None, None, None, None, None, None, None, 0),
            TnsRow("2030b", "AT", 10.0 + 1.0 / 3600, 0.0, None, None, None, None, None, None,
                   None, None, 0)]
    index = build_tns_index(rows)
    assert match_tns([10.0 + 0.8 / 3600], [0.0], index).tns_name == ["2030b"]
    assert match_tns([10.0 + 0.2 / 3600], [0.0], index).tns_name == ["2030a"]
    assert match_tns([5.0], [5.0], build_tns_index([])).tns_name == [None]
