"""Parse one right ascension or declination written in decimal degrees or sexagesimal.

RA: decimal degrees in [0, 360], or hours ``hh:mm:ss.s``, ``hh mm ss.s``, ``12h34m56.7s``.
Dec: decimal degrees in [-90, 90], or ``+dd:mm:ss.s``, ``-dd mm ss``, ``-12d34m56s``.
Errors are ``ValueError`` with a short reason (the caller adds file and line).
"""
from __future__ import annotations

import math
import re

_NUMBER = r"(\d+(?:\.\d*)?|\.\d+)"
_RA_SEXAGESIMAL = re.compile(
    rf"^(\d{{1,2}})\s*[:\sh]\s*(\d{{1,2}})\s*[:\sm]\s*{_NUMBER}\s*s?$", re.IGNORECASE)
_DEC_SEXAGESIMAL = re.compile(
    rf"^([+\-\u2212]?)\s*(\d{{1,2}})\s*[:\sd\u00b0]\s*(\d{{1,2}})\s*[:\s'm\u2032]\s*{_NUMBER}"
    r"\s*[\"s\u2033]?$", re.IGNORECASE)


def _decimal(text: str) -> float | None:
    """The value of a plain decimal number, or None if ``text`` is not one."""
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a finite number")
    return value


def _minutes_seconds(minutes: str, seconds: str, what: str, text: str) -> float:
    """Minutes and seconds of a sexagesimal value, as a fraction of the unit."""
    m, s = int(minutes), float(seconds)
    if m >= 60 or s >= 60.0:
        raise ValueError(f"{what} {text!r}: minutes and seconds must be below 60")
    return m / 60.0 + s / 3600.0


def parse_ra(text: str) -> float:
    """Right ascension in degrees from decimal degrees or sexagesimal hours."""
    text = text.strip()
    value = _decimal(text)
    if value is not None:
        if not 0.0 <= value <= 360.0:
            raise ValueError(f"ra {text!r} is outside [0, 360] degrees")
        return value % 360.0
    match = _RA_SEXAGESIMAL.match(text)
    if match is None:
        raise ValueError(f"ra {text!r} is neither decimal degrees nor hh:mm:ss.s")
    hours = int(match[1])
    if hours >= 24:
        raise ValueError(f"ra {text!r}: hours must be below 24")
    return 15.0 * (hours + _minutes_seconds(match[2], match[3], "ra", text))


def parse_dec(text: str) -> float:
    """Declination in degrees from decimal degrees or sexagesimal ±dd:mm:ss.s."""
    text = text.strip()
    value = _decimal(text)
    if value is None:
        match = _DEC_SEXAGESIMAL.match(text)
        if match is None:
            raise ValueError(f"dec {text!r} is neither decimal degrees nor +dd:mm:ss.s")
        sign = -1.0 if match[1] in ("-", "\u2212") else 1.0
        value = sign * (int(match[2]) + _minutes_seconds(match[3], match[4], "dec", text))
    if not -90.0 <= value <= 90.0:
        raise ValueError(f"dec {text!r} is outside [-90, 90] degrees")
    return value
