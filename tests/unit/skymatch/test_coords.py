"""Right ascension and declination in decimal degrees or sexagesimal."""
import pytest

from solas.skymatch import parse_dec, parse_ra


@pytest.mark.parametrize("text, degrees", [
    ("187.25", 187.25), ("0", 0.0), ("360", 0.0), (" 12.5 ", 12.5),
    ("12:30:00", 187.5), ("12 30 00.0", 187.5), ("12h30m00s", 187.5),
    ("00:00:36.0", 0.15), ("23:59:59.99", 359.9999583333333),
])
def test_ra_decimal_degrees_or_sexagesimal_hours(text, degrees):
    assert parse_ra(text) == pytest.approx(degrees, abs=1e-12)


@pytest.mark.parametrize("text, degrees", [
    ("-45.5", -45.5), ("+90", 90.0), ("+12:30:00", 12.5), ("-12 30 00", -12.5),
    ("-00:30:00", -0.5), ("-00 00 36", -0.01), ("12d30m36s", 12.51),
    ("-89:59:59.9", -89.99997222222222),
])
def test_dec_decimal_or_sexagesimal_degrees_keep_the_sign(text, degrees):
    assert parse_dec(text) == pytest.approx(degrees, abs=1e-12)


@pytest.mark.parametrize("text, reason", [
    ("361", "outside"), ("-1", "outside"), ("24:00:00", "hours"), ("12:60:00", "below 60"),
    ("12:30", "neither"), ("abc", "neither"), ("nan", "finite"), ("", "neither"),
])
def test_bad_ra_says_why(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_ra(text)


@pytest.mark.parametrize("text, reason", [
    ("90.5", "outside"), ("-91:00:00", "outside"), ("+10:00:60", "below 60"), ("x", "neither"),
    ("inf", "finite"),
])
def test_bad_dec_says_why(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_dec(text)
