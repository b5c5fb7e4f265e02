"""Streaming watchlist CSV parsing: real uploads, formats, per-line errors."""
import csv
import io

import numpy as np
import pytest

from solas.skymatch import WatchlistCsvError, read_watchlist_csv


def parse(text, **kwargs):
    batches = list(read_watchlist_csv(io.StringIO(text), **kwargs))
    cat = {key: np.concatenate([getattr(b, key) for b in batches]) if batches else []
           for key in ("line", "name", "ra", "dec", "radius_arcsec")}
    cat["errors"] = [e for b in batches for e in b.errors]
    return batches, cat


@pytest.mark.parametrize("filename, columns", [
    ("watchlist_4LAC_DR3_bllac.csv", ("name", "ra", "dec")),
    ("watchlist_3HSP.csv", ("name", "ra", "dec")),
])
def test_real_watchlists_are_read_in_batches_by_header_names(watchlists_dir, filename,
                                                             columns):
    path = watchlists_dir / filename
    with open(path, newline="") as f:
        expected = list(csv.DictReader(f))
    with open(path, "rb") as f:
        batches = list(read_watchlist_csv(f, source=filename, batch_size=500))
    assert all(len(b.line) <= 500 for b in batches) and len(batches) >= 3
    assert not any(b.errors for b in batches)
    name = np.concatenate([b.name for b in batches]).tolist()
    ra = np.concatenate([b.ra for b in batches])
    dec = np.concatenate([b.dec for b in batches])
    assert name == [row["name"] for row in expected]
    np.testing.assert_array_equal(ra, [float(row["ra"]) for row in expected])
    np.testing.assert_array_equal(dec, [float(row["dec"]) for row in expected])
    assert np.isnan(np.concatenate([b.radius_arcsec for b in batches])).all()
    assert np.concatenate([b.line for b in batches]).tolist() == list(range(2, len(name) + 2))


def test_headerless_sexagesimal_and_radius():
    _, rows = parse("M31, 00:42:44.3, +41:16:09, 30\n"
                    "M87\t12 30 49.42\t+12 23 28.0\n".replace("\t", ",")
                    + "S Pole,06h00m00s,-89d59m59s,\n")
    assert rows["name"].tolist() == ["M31", "M87", "S Pole"]
    np.testing.assert_allclose(rows["ra"], [10.684583333, 187.705916667, 90.0], atol=1e-8)
    np.testing.assert_allclose(rows["dec"], [41.269166667, 12.391111111, -89.999722222],
                               atol=1e-8)
    np.testing.assert_array_equal(rows["radius_arcsec"], [30.0, np.nan, np.nan])


def test_bad_rows_are_reported_by_line_and_good_rows_kept():
    text = ("# my watchlist\n"
            "name;ra;dec;radius\n"
            "\n"
            "good1;10;20;5\n"
            "bad ra;400;20\n"
            "bad dec;10;-95\n"
            ";10;20\n"
            "bad radius;10;20;-2\n"
            "words;ten;twenty\n"
            "short;10\n"
            "good2;12:00:00;-30:00:00\n")
    batches, rows = parse(text, batch_size=1)
    assert rows["name"].tolist() == ["good1", "good2"]
    assert rows["line"].tolist() == [4, 11]
    assert [(e.line, e.reason.split()[0]) for e in rows["errors"]] == [
        (5, "ra"), (6, "dec"), (7, "empty"), (8, "radius"), (9, "ra"), (10, "expected")]
    assert "outside [0, 360]" in rows["errors"][0].reason
    assert len(batches) == 2


def test_commented_header_chooses_the_columns():
    _, rows = parse("#dec,ra,id\n-10.5,200.25,x1\n")
    assert rows["name"].tolist() == ["x1"]
    assert rows["ra"].tolist() == [200.25] and rows["dec"].tolist() == [-10.5]


def test_undecodable_lines_are_errors_not_crashes():
    data = "name,ra,dec\nok,1,2\n".encode() + b"caf\xe9,3,4\n" + "Ωcen,5,6\n".encode()
    batches = list(read_watchlist_csv(io.BytesIO(data)))
    assert [n for b in batches for n in b.name.tolist()] == ["ok", "Ωcen"]
    errors = [e for b in batches for e in b.errors]
    assert [e.line for e in errors] == [3] and "UTF-8" in errors[0].reason


def test_the_most_frequent_delimiter_wins():
    _, rows = parse("NGC 1, core;10;20\nb|c;11;21;4\n")
    assert rows["name"].tolist() == ["NGC 1, core", "b|c"]
    np.testing.assert_array_equal(rows["radius_arcsec"], [np.nan, 4.0])
    _, rows = parse("x\t10\t+10 30 00\n")
    assert rows["dec"].tolist() == [10.5]


def test_bom_and_quoted_names():
    data = '\ufeffname,ra,dec\n"NGC 1, the ""first""",1.5,2.5\n'.encode("utf-8")
    batches = list(read_watchlist_csv(io.BytesIO(data)))
    assert batches[0].name.tolist() == ['NGC 1, the "first"']


@pytest.mark.parametrize("text, reason", [
    ("", "no rows"),
    ("\n# only a comment\n", "no rows"),
    ("id,ra,declination\n1,2,3\n", "no dec column"),
    ("name,ra,ra\nx,1,2\n", "ra column twice"),
])
def test_unusable_files_raise_a_clear_error(text, reason):
    with pytest.raises(WatchlistCsvError, match=reason):
        parse(text, source="up.csv")


def test_row_limit():
    text = "".join(f"s{i},{i},0\n" for i in range(11))
    with pytest.raises(WatchlistCsvError, match="line 11: more than 10 rows"):
        parse(text, max_rows=10)
    assert len(parse(text, max_rows=11)[1]["name"]) == 11


def test_a_field_over_the_csv_limit_is_a_bad_line_not_a_crash():
    """Issue 32 item 3: a 128 KiB field crashed the job (the watchlist stayed loading)."""
    lines = ["name,ra,dec\n", "a,10,20\n", "b," + "9" * 200_000 + ",1\n", "c,11,21\n"]
    batches = list(read_watchlist_csv(lines))
    assert [str(n) for b in batches for n in b.name] == ["a", "c"]
    errors = [e for b in batches for e in b.errors]
    assert len(errors) == 1 and errors[0].line == 3 and "field" in errors[0].reason


def test_bad_lines_are_bounded_and_yielded_in_batches():
    """Issue 32 item 3: 30 MiB of invalid lines grew the portal by 1.28 GB."""
    bad = ("x,1,95\n" for _ in range(25_000))
    sizes = [len(b.errors) for b in read_watchlist_csv(bad, max_rows=100_000)]
    assert max(sizes) <= 10_000 and sum(sizes) == 25_000
    with pytest.raises(WatchlistCsvError, match="more than 1,000 rejected lines"):
        list(read_watchlist_csv(("x,1,95\n" for _ in range(5000)), max_rows=1000))
