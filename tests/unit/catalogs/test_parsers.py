"""Malformed rows give a CatalogueFormatError naming the file, line and field; empty
catalogues load as zero rows. Bad copies are small edits of the real files."""
from __future__ import annotations

import gzip
import math
import shutil
import sqlite3

import numpy as np
import pytest
from astropy.io import fits

from catalogs.model import CatalogueFormatError
from catalogs.parsers import parse_float, parse_sexagesimal
from catalogs.sources import catalogue_path, read_catalogue


def copy_with(src_lines: list[str], line: int, new: str) -> list[str]:
    """``src_lines`` with 1-based ``line`` replaced by ``new``."""
    out = list(src_lines)
    out[line - 1] = new
    return out


def expect_error(name: str, path, line: int | None, field: str | None = None,
                 match: str | None = None) -> CatalogueFormatError:
    with pytest.raises(CatalogueFormatError) as info:
        read_catalogue(name, path)
    err = info.value
    assert err.path.name == path.name and err.line == line and err.field == field
    assert path.name in str(err) and (line is None or f"line {line}" in str(err))
    if match:
        assert match in str(err)
    return err


def test_gcvs_bad_number(data_dir, tmp_path):
    with gzip.open(catalogue_path("gcvs", data_dir), "rt") as handle:
        lines = [next(handle) for _ in range(20)]
    ra, dec, kind = lines[6].split(",")
    path = tmp_path / "gcvs.csv.gz"
    with gzip.open(path, "wt") as handle:
        handle.writelines(copy_with(lines, 7, f"{ra},12x.5,{kind}"))
    expect_error("gcvs", path, 7, "dec", "not a number: '12x.5'")


def test_gcvs_wrong_cell_count_and_empty(tmp_path):
    path = tmp_path / "gcvs.csv"
    path.write_text("ra,dec,VarType\n1.0,2.0,M\n3.0,4.0\n")
    expect_error("gcvs", path, 3, None, "2 cells where the header has 3")
    path.write_text("ra,dec,VarType\n")
    assert len(read_catalogue("gcvs", path)) == 0
    path.write_text("ra,dekl,VarType\n")
    expect_error("gcvs", path, 1, None, "header lacks columns ['dec']")
    path.write_text("")
    expect_error("gcvs", path, None, None, "empty")


def test_spicy_out_of_range(tmp_path):
    path = tmp_path / "spicy.csv"
    path.write_text("RAdeg,DEdeg,class\n10,20,ClassI\n370,20,ClassII\n")
    expect_error("spicy", path, 3, "RAdeg", "outside [0, 360]")


def test_hipparcos_bad_line(data_dir, tmp_path):
    with open(catalogue_path("hipparcos2", data_dir)) as handle:
        lines = [next(handle) for _ in range(10)]
    bad = lines[6][:15] + " 0.00x0000000" + lines[6][28:]
    path = tmp_path / "hip2.dat"
    path.write_text("".join(copy_with(lines, 7, bad)))
    expect_error("hipparcos2", path, 7, "RArad")
    path.write_text("".join(copy_with(lines, 4, lines[3][:100] + "\n")))
    expect_error("hipparcos2", path, 4, None, "100 characters")


def test_milliquas_truncated_line(data_dir, tmp_path):
    lines = catalogue_path("milliquas", data_dir).read_text().splitlines(keepends=True)[:30]
    path = tmp_path / "milliquas.txt"
    path.write_text("".join(copy_with(lines, 12, lines[11][:40] + "\n")))
    expect_error("milliquas", path, 12, None, "40 characters")
    path.write_text("".join(copy_with(lines, 5, lines[4][:74] + "9.9.9 " + lines[4][80:])))
    expect_error("milliquas", path, 5, "z")


def test_veron_bad_row(data_dir, tmp_path):
    lines = catalogue_path("veron_cetty", data_dir) \
        .read_text().splitlines(keepends=True)
    first_data = next(i for i, t in enumerate(lines) if t[:1].isdigit()) + 1
    bad = lines[first_data + 2].replace("|Q|", "|Q|extra|", 1)
    path = tmp_path / "veron.tsv"
    path.write_text("".join(copy_with(lines, first_data + 3, bad)))
    expect_error("veron_cetty", path, first_data + 3, None, "14 cells where the header has 13")


def test_yale_bad_json_and_angle(data_dir, tmp_path):
    lines = catalogue_path("yale_bsc5", data_dir).read_text().splitlines(keepends=True)[:12]
    path = tmp_path / "bsc.json"
    path.write_text("".join(copy_with(lines, 5, '{ "HR": "4", "RA": \n')))
    expect_error("yale_bsc5", path, 5, None, "not a JSON object")
    bad = lines[5].replace('"Dec": "', '"Dec": "x', 1)
    path.write_text("".join(copy_with(lines, 6, bad)))
    expect_error("yale_bsc5", path, 6, "Dec", "not a sexagesimal angle")


def test_3hsp_declination_out_of_range(data_dir, tmp_path):
    lines = catalogue_path("3hsp", data_dir).read_text().splitlines(keepends=True)[:10]
    bad = lines[3].replace('"-41 ', '"-91 ', 1)
    path = tmp_path / "3hsp.csv"
    path.write_text("".join(copy_with(lines, 4, bad)))
    expect_error("3hsp", path, 4, "Dec", "outside [-90, 90]")


def test_4lac_bad_position_and_not_fits(data_dir, tmp_path):
    path = tmp_path / "4lac.fits"
    with fits.open(catalogue_path("fermi_4lac_dr3_l", data_dir)) as hdul:
        table = fits.BinTableHDU(hdul[1].data[:5].copy())
        table.data["DEC_Counterpart"][3] = 95.0
        fits.HDUList([fits.PrimaryHDU(), table]).writeto(path)
    err = expect_error("fermi_4lac_dr3_l", path, None, "RA_Counterpart", "row 4:")
    assert "95.0" in str(err)
    path.write_text("not fits")
    expect_error("fermi_4lac_dr3_l", path, None)


def test_openngc_bad_database_row(data_dir, tmp_path):
    path = tmp_path / "ongc.db"
    shutil.copy(catalogue_path("openngc", data_dir), path)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE objects SET dec = 2.0 WHERE id = 42")
    expect_error("openngc", path, 42, "dec", "outside [-90, 90]")


def test_ned_d_negative_distance(data_dir, tmp_path):
    lines = catalogue_path("ned_d", data_dir).read_text().splitlines(keepends=True)
    path = tmp_path / "ned.csv"
    line = next(i for i, t in enumerate(lines, 1) if '"68.0"' in t)
    path.write_text("".join(copy_with(lines, line, lines[line - 1].replace('"68.0"', '"-68.0"'))))
    expect_error("ned_d", path, line, "D (Mpc)", "not positive")


def test_glade_and_clu_bad_cells(data_dir, tmp_path):
    lines = catalogue_path("glade_plus", data_dir).read_text().splitlines(keepends=True)
    path = tmp_path / "GLADE.csv"
    path.write_text("".join(copy_with(lines, 9, lines[8].replace(",G,", ",G,abc", 1))))
    expect_error("glade_plus", path, 9, "RA")
    lines = catalogue_path("clu", data_dir).read_text().splitlines(keepends=True)
    path = tmp_path / "CLU.csv"
    cells = lines[2].split(",")
    cells[3] = "far"
    path.write_text("".join(copy_with(lines, 3, ",".join(cells))))
    expect_error("clu", path, 3, "distmpc")


def test_parse_helpers():
    assert math.isnan(parse_float(" ", "f", 1, "x"))
    assert math.isnan(parse_float("-inf", "f", 1, "x"))
    assert parse_float("-12.9?", "f", 1, "x") == -12.9
    with pytest.raises(CatalogueFormatError, match="missing"):
        parse_float("null", "f", 3, "x", required=True)
    assert parse_sexagesimal("-00° 30′ 11″", False, "f", 1, "d") == pytest.approx(
        -(30 / 60 + 11 / 3600))
    assert parse_sexagesimal("23 59 59.99", True, "f", 1, "r") == pytest.approx(
        15 * (23 + 59 / 60 + 59.99 / 3600))
    with pytest.raises(CatalogueFormatError, match=">= 60"):
        parse_sexagesimal("10 61 00", True, "f", 1, "r")
    assert np.isclose(parse_sexagesimal("+89 59 59.9", False, "f", 1, "d"), 89.99997222)
