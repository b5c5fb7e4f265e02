"""In-memory spatial index: every (position, source) pair closer than the source's own
radius, exactly (great circle), for whole arrays of positions at once.

Sources are unit vectors on the sphere, grouped into *tiers* of similar search radius
(radii within a factor :data:`TIER_RATIO`); each tier is a :class:`scipy.spatial.cKDTree`.
A batch of positions becomes one more tree and each tier is searched with a dual-tree
traversal (``sparse_distance_matrix``) out to the chord of the tier's largest radius;
the candidate pairs are then cut at each source's own radius using the exact
great-circle separation. Unit vectors make the poles and the RA wrap-around ordinary
points. Memory is about 90 bytes per source, trees included.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.spatial import cKDTree

ARCSEC_PER_RAD = 180.0 / np.pi * 3600.0
TIER_RATIO = 4.0
"""Largest / smallest search radius inside one tier."""
_CHORD_MARGIN = 1.0 + 1e-9  # the tree cut must never lose a pair the exact cut keeps
_NODE_BYTES = 72  # approximate size of one cKDTree node


class PairMatches(NamedTuple):
    """Pairs of (position, source) within the source's radius, sorted by position then
    separation."""

    position: np.ndarray
    """Index into the queried position arrays (int64)."""
    source: np.ndarray
    """Index into the sources the index was built from (int64)."""
    separation_arcsec: np.ndarray
    """Great-circle separation, arcsec (float64)."""


def unit_vectors(ra_deg, dec_deg) -> np.ndarray:
    """Cartesian unit vectors, shape (n, 3), of positions in degrees."""
    ra = np.radians(np.asarray(ra_deg, dtype=np.float64))
    dec = np.radians(np.asarray(dec_deg, dtype=np.float64))
    cos_dec = np.cos(dec)
    return np.stack([cos_dec * np.cos(ra), cos_dec * np.sin(ra), np.sin(dec)], axis=-1)


def separation_arcsec(xyz_a: np.ndarray, xyz_b: np.ndarray) -> np.ndarray:
    """Great-circle separation, arcsec, of unit vectors (row-wise): atan2(|a x b|, a.b),
    accurate at every angle."""
    cross = np.linalg.norm(np.cross(xyz_a, xyz_b), axis=-1)
    dot = np.einsum("ij,ij->i", xyz_a, xyz_b)
    return np.arctan2(cross, dot) * ARCSEC_PER_RAD


def chord_of_arcsec(radius_arcsec) -> np.ndarray:
    """Chord length on the unit sphere of an angle in arcsec (angles above 180 deg
    give the diameter, 2)."""
    angle = np.minimum(np.asarray(radius_arcsec, dtype=np.float64) / ARCSEC_PER_RAD, np.pi)
    return 2.0 * np.sin(angle / 2.0)


class _Tier(NamedTuple):
    members: np.ndarray   # source indices in this tier
    tree: cKDTree
    chord: float          # search chord covering the tier's largest radius


class SkyIndex:
    """Sources with per-source search radii; :meth:`match_positions` finds, for arrays
    of positions, every source whose radius covers them.

    Sources with a non-finite position or a radius that is not positive are never
    matched (they keep their index numbers, so callers' arrays stay aligned).
    """

    def __init__(self, ra_deg, dec_deg, radius_arcsec, tier_ratio: float = TIER_RATIO):
        ra = np.asarray(ra_deg, dtype=np.float64)
        dec = np.asarray(dec_deg, dtype=np.float64)
        radius = np.asarray(radius_arcsec, dtype=np.float64)
        if not ra.shape == dec.shape == radius.shape or ra.ndim != 1:
            raise ValueError("ra, dec and radius must be 1-d arrays of one length")
        if tier_ratio <= 1.0:
            raise ValueError(f"tier_ratio must exceed 1, not {tier_ratio}")
        self.n_sources = len(ra)
        self.xyz = unit_vectors(ra, dec)
        self.radius_arcsec = radius
        usable = np.isfinite(ra) & np.isfinite(dec) & np.isfinite(radius) & (radius > 0)
        self.tiers = self._build_tiers(np.flatnonzero(usable), tier_ratio)

    def _build_tiers(self, usable: np.ndarray, ratio: float) -> list[_Tier]:
        if not len(usable):
            return []
        radius = self.radius_arcsec[usable]
        level = np.floor(np.log(radius / radius.min()) / np.log(ratio)).astype(np.int64)
        tiers = []
        for value in np.unique(level):
            members = usable[level == value]
            chord = float(chord_of_arcsec(self.radius_arcsec[members].max())) * _CHORD_MARGIN
            tree = cKDTree(self.xyz[members], leafsize=16, balanced_tree=False,
                           compact_nodes=False)
            tiers.append(_Tier(members, tree, chord))
        return tiers

    @property
    def nbytes(self) -> int:
        """Approximate memory held by the index (arrays and trees), bytes."""
        per_tree = sum(t.members.nbytes + t.tree.data.nbytes + t.tree.indices.nbytes
                       + _NODE_BYTES * t.tree.size for t in self.tiers)
        return self.xyz.nbytes + self.radius_arcsec.nbytes + per_tree

    def match_positions(self, ra_deg, dec_deg) -> PairMatches:
        """Every (position, source) pair whose great-circle separation is at most the
        source's radius. ``ra_deg``/``dec_deg``: arrays of positions, deg."""
        xyz = unit_vectors(np.atleast_1d(ra_deg), np.atleast_1d(dec_deg))
        if xyz.ndim != 2:
            raise ValueError("ra and dec must be scalars or 1-d arrays")
        positions = np.flatnonzero(np.isfinite(xyz).all(axis=1))
        if not len(positions) or not self.tiers:
            return _empty_pairs()
        query = cKDTree(xyz[positions])
        parts = [self._search_tier(tier, query, xyz, positions) for tier in self.tiers]
        pos = np.concatenate([p[0] for p in parts])
        src = np.concatenate([p[1] for p in parts])
        sep = np.concatenate([p[2] for p in parts])
        order = np.lexsort((src, sep, pos))
        return PairMatches(pos[order], src[order], sep[order])

    def _search_tier(self, tier: _Tier, query: cKDTree, xyz: np.ndarray,
                     positions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pairs = query.sparse_distance_matrix(tier.tree, tier.chord, output_type="ndarray")
        pos = positions[pairs["i"]]
        src = tier.members[pairs["j"]]
        sep = separation_arcsec(xyz[pos], self.xyz[src])
        keep = sep <= self.radius_arcsec[src]
        return pos[keep], src[keep], sep[keep]


def _empty_pairs() -> PairMatches:
    return PairMatches(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
