"""Helpers for synthetic clones of real alerts (load tests): ids, jitter, time shifts.

A clone of an alert gets:

* new ids, a deterministic function of (original id, clone ``index``, id kind): the same
  index applied to successive alerts of one object gives one clone object whose sources
  keep stable ids, and different indices give different objects;
* one position offset for all of its points (uniform in a disc of radius
  ``jitter_arcmin``), with ra wrapped into [0, 360) and dec clipped to [-90, 90];
* one time offset (uniform in ``±max_shift_days``) added to every time field.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

_M64 = (1 << 64) - 1
_M63 = (1 << 63) - 1
_GOLDEN = 0x9E3779B97F4A7C15

DEFAULT_JITTER_ARCMIN = 3.0
"""Default radius of the position jitter, arcmin."""
DEFAULT_MAX_SHIFT_DAYS = 30.0
"""Default largest time shift, days."""
MICROS_PER_DAY = 86_400_000_000


def splitmix64(x: int) -> int:
    """The splitmix64 finaliser: a bijective 64-bit mix."""
    z = (x + _GOLDEN) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def new_id(old: int, index: int, kind: int) -> int:
    """Clone id in [1, 2**63) for id ``old`` of clone ``index`` (``kind`` separates id spaces)."""
    return splitmix64(splitmix64(old & _M64) ^ splitmix64((index << 4) | kind)) & _M63 or 1


def ztf_object_id(object_id: str, index: int) -> str:
    """Clone ZTF objectId: the real ``ZTFyyaaaaaaa`` shape with a year 00-16 that ZTF
    (alerts since 2017) never uses, so clones cannot collide with real objects."""
    seed = int.from_bytes(hashlib.blake2b(object_id.encode(), digest_size=8).digest(), "big")
    value = new_id(seed, index, 15)
    year, value = value % 17, value // 17
    letters = []
    for _ in range(7):
        value, digit = divmod(value, 26)
        letters.append(chr(97 + digit))
    return f"ZTF{year:02d}{''.join(letters)}"


@dataclass
class ClonePlan:
    """The offsets and id mapping of one clone."""

    index: int
    dra: float
    """ra offset, deg (already divided by cos(dec) of the object)."""
    ddec: float
    """dec offset, deg."""
    dt_days: float
    """time offset, days."""
    memo: dict[tuple[int, int], int] = field(default_factory=dict)

    @classmethod
    def draw(cls, index: int, dec0: float, rng: np.random.Generator, *,
             jitter_arcmin: float = DEFAULT_JITTER_ARCMIN,
             max_shift_days: float = DEFAULT_MAX_SHIFT_DAYS) -> "ClonePlan":
        """Draw the offsets for a clone of an object at declination ``dec0`` (deg)."""
        radius = jitter_arcmin / 60.0 * math.sqrt(rng.uniform())
        angle = rng.uniform(0.0, 2.0 * math.pi)
        cosdec = max(math.cos(math.radians(dec0 if math.isfinite(dec0) else 0.0)), 1e-6)
        return cls(index, radius * math.cos(angle) / cosdec, radius * math.sin(angle),
                   float(rng.uniform(-max_shift_days, max_shift_days)))

    def id(self, old, kind: int):
        """Mapped id; ``None``, 0 and non-integers are kept (they mean "no id")."""
        if not isinstance(old, int) or isinstance(old, bool) or old == 0:
            return old
        key = (old, kind)
        new = self.memo.get(key)
        if new is None:
            new = self.memo[key] = new_id(old, self.index, kind)
        return new

    def ra(self, ra):
        """Jittered right ascension (deg, wrapped into [0, 360))."""
        return ra if ra is None else (ra + self.dra) % 360.0

    def dec(self, dec):
        """Jittered declination (deg, clipped to [-90, 90])."""
        return dec if dec is None else min(90.0, max(-90.0, dec + self.ddec))


@dataclass(frozen=True)
class RowSpec:
    """Which fields of a row are ids, positions and times."""

    ids: dict[str, int] = field(default_factory=dict)
    """field -> id kind."""
    ras: tuple[str, ...] = ()
    """right-ascension fields, deg."""
    decs: tuple[str, ...] = ()
    """declination fields, deg."""
    days: frozenset[str] = frozenset()
    """time fields in days (MJD or JD)."""
    micros: frozenset[str] = frozenset()
    """time fields in microseconds (Avro timestamp-micros, 0 = unset)."""


def clone_row(row: dict, spec: RowSpec, plan: ClonePlan) -> dict:
    """Copy of one native row with ids mapped, positions jittered and times shifted."""
    new = dict(row)
    for name, kind in spec.ids.items():
        if name in new:
            new[name] = plan.id(new[name], kind)
    for name in spec.ras:
        value = new.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            new[name] = plan.ra(float(value))
    for name in spec.decs:
        value = new.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            new[name] = plan.dec(float(value))
    for name in spec.days.intersection(new):
        value = new[name]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            new[name] = float(value) + plan.dt_days
    for name in spec.micros.intersection(new):
        value = new[name]
        if isinstance(value, int) and not isinstance(value, bool) and value:
            new[name] = value + round(plan.dt_days * MICROS_PER_DAY)
    return new


def clone_rows(rows: Iterable[dict] | None, spec: RowSpec, plan: ClonePlan) -> list[dict] | None:
    """:func:`clone_row` over a list (``None`` stays ``None``)."""
    if rows is None:
        return None
    return [clone_row(r, spec, plan) for r in rows]
