"""The tables spec of a filter: which tables its SQL may use, and who may use them.

Grammar (comma-separated items, spaces allowed, keywords in any case)::

    objects                    always joined, may be omitted
    sherlock_classifications   crossmatch_tns
    watchlist:<id>             one watchlist: joins watchlist_hits rows of that watchlist
    watchmap:<id>[&<id>...]    objects inside EVERY listed watchmap (one join per map)
    annotator:<topic>          annotations of that annotator, under the alias <topic>

Solar-system filters (Rubin deployment only)::

    ss_objects                 one row per solar-system object (ssObjectId, designation,
                               latest orbit and geometry, per-band photometry)
    ss_sources                 its detections (diaSource photometry + ssSource), joined on
                               ssObjectId; implies ss_objects

A filter listing ``ss_objects`` or ``ss_sources`` is a *solar-system filter*: it selects
``FROM ss_objects`` instead of ``objects`` and its object id is ``ssObjectId``, so it
cannot be combined with ``objects`` or any other item (a solar-system object has no
diaObject, sky context, watchlist or watchmap hits or annotations).  In the stream it
runs on the batch's solar-system objects (``ss_objects.ssObjectId IN (...)``) and
each row's first value is the ssObjectId; on demand over every stored object.

Joins are inner joins: listing a table keeps only the objects that have a row there (a
watchlist keeps objects inside one of its cones, one row per cone; an annotator keeps
annotated objects).  Watchlists, watchmaps and annotators can be private to their
owner: :func:`parse_tables` asks an ``access`` callback about each one it names.
"""
from __future__ import annotations

import difflib
import re
from enum import Enum
from typing import Callable, NamedTuple

from solas.filters.errors import FilterError

FIELD = "tables"
MAX_ID = 2**31 - 1  # the id columns are INT
_KIND_ITEM = re.compile(r"(?i)(watchlist|watchmap|annotator)\s*:\s*(.*)", re.S)
_TOPIC = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_PLAIN = ("objects", "sherlock_classifications", "crossmatch_tns", "ss_objects", "ss_sources")
SOLAR_SYSTEM_ITEMS = ("ss_objects", "ss_sources")
"""Tables spec items that make a solar-system filter (rooted at ``ss_objects``)."""
_FORMS = ("objects", "sherlock_classifications", "crossmatch_tns", "watchlist:<id>",
          "watchmap:<id>", "annotator:<topic>", "ss_objects", "ss_sources")
_INSTEAD = {
    "watchlist_hits": "watchlist:<id>", "watchlists": "watchlist:<id>",
    "watchlist": "watchlist:<id>", "watchlist_cones": "watchlist:<id>",
    "area_hits": "watchmap:<id>", "watchmaps": "watchmap:<id>", "watchmap": "watchmap:<id>",
    "annotations": "annotator:<topic>", "annotators": "annotator:<topic>",
    "annotator": "annotator:<topic>",
}
# Aliases an annotator topic may not take (they name the other joined tables).
RESERVED_ALIASES = re.compile(
    r"(?i)objects|sherlock_classifications|crossmatch_tns|watchlist_hits|area_hits"
    r"(_\d+)?|annotations|ss_objects|ss_sources")


class Access(Enum):
    """What a user may know of a watchlist, watchmap or annotator."""

    VISIBLE = "visible"  # it exists and the user owns it or it is public
    PRIVATE = "private"  # it exists but is another user's and not public
    MISSING = "missing"  # there is no such thing


AccessCheck = Callable[[str, "int | str"], Access]
"""``access(kind, key)``: kind is 'watchlist', 'watchmap' or 'annotator'; key the id or
topic.  The caller answers for the user the filter runs for (owner or public)."""


class TablesSpec(NamedTuple):
    """A parsed tables spec (``objects`` is part of it unless it is a solar-system
    filter, :attr:`solar_system`)."""

    sherlock: bool = False
    crossmatch_tns: bool = False
    watchlist: int | None = None
    watchmaps: tuple[int, ...] = ()
    annotators: tuple[str, ...] = ()
    ss_objects: bool = False
    ss_sources: bool = False

    @property
    def solar_system(self) -> bool:
        """A solar-system filter: rooted at ``ss_objects`` (object id ``ssObjectId``)."""
        return self.ss_objects or self.ss_sources

    def references(self) -> list[tuple[str, int | str]]:
        """(kind, id or topic) of every watchlist, watchmap and annotator named."""
        refs: list[tuple[str, int | str]] = []
        if self.watchlist is not None:
            refs.append(("watchlist", self.watchlist))
        refs += [("watchmap", ar_id) for ar_id in self.watchmaps]
        refs += [("annotator", topic) for topic in self.annotators]
        return refs

    def text(self) -> str:
        """The canonical spec text (parses back to this spec)."""
        if self.solar_system:
            return ", ".join(n for n, on in (("ss_objects", self.ss_objects),
                                             ("ss_sources", self.ss_sources)) if on)
        items = ["objects"]
        items += ["sherlock_classifications"] if self.sherlock else []
        items += ["crossmatch_tns"] if self.crossmatch_tns else []
        items += [f"watchlist:{self.watchlist}"] if self.watchlist is not None else []
        items += ["watchmap:" + "&".join(map(str, self.watchmaps))] if self.watchmaps else []
        items += [f"annotator:{topic}" for topic in self.annotators]
        return ", ".join(items)


def parse_tables(spec: str, access: AccessCheck | None = None) -> TablesSpec:
    """Parse a tables spec; with ``access``, also refuse a watchlist, watchmap or
    annotator that does not exist ('no watchlist 99') or is another user's private one
    ('watchlist 12 is private').  Raises :class:`FilterError` naming the item and its
    position in ``spec``."""
    if not isinstance(spec, str):
        raise FilterError(f"must be a string, not {type(spec).__name__}", field=FIELD)
    found: dict[str, object] = {"watchmaps": [], "annotators": []}
    if spec.strip():
        offset = 0
        for raw in spec.split(","):
            item = raw.strip()
            _parse_item(item, offset + len(raw) - len(raw.lstrip()), found, access)
            offset += len(raw) + 1
    parsed = TablesSpec(bool(found.get("sherlock_classifications")),
                        bool(found.get("crossmatch_tns")), found.get("watchlist"),
                        tuple(found["watchmaps"]), tuple(found["annotators"]),
                        bool(found.get("ss_objects")), bool(found.get("ss_sources")))
    check_solar_system(parsed, bool(found.get("objects")))
    return parsed


def check_solar_system(spec: TablesSpec, objects_listed: bool = False) -> None:
    """Refuse a solar-system spec that also names ``objects`` or another item."""
    if not spec.solar_system:
        return
    others = ["objects"] if objects_listed else []
    others += [name for name, on in (("sherlock_classifications", spec.sherlock),
                                     ("crossmatch_tns", spec.crossmatch_tns)) if on]
    others += [f"{kind}:{key}" for kind, key in spec.references()]
    if others:
        raise FilterError(
            f"ss_objects and ss_sources make a solar-system filter (FROM ss_objects, "
            f"object id ssObjectId): they cannot be combined with {', '.join(others)}; "
            f"solar-system objects have no diaObject, sky context, watchlist or watchmap "
            f"hits or annotations", field=FIELD)


def check_access(spec: TablesSpec, access: AccessCheck) -> None:
    """Refuse a parsed spec naming a missing or another user's private item."""
    for kind, key in spec.references():
        _check(kind, key, access, None)


def _parse_item(item: str, at: int, found: dict, access: AccessCheck | None) -> None:
    if not item:
        raise FilterError("empty item in the tables list", field=FIELD, position=at)
    if item.lower() in _PLAIN:
        name = item.lower()
        if name in found:
            raise FilterError(f"{name} is listed twice", field=FIELD, position=at)
        found[name] = True
        return
    match = _KIND_ITEM.fullmatch(item)
    if match is None:
        raise FilterError(_unknown_item(item), field=FIELD, position=at)
    kind, value = match.group(1).lower(), match.group(2)
    vat = at + match.start(2)
    if kind == "watchlist":
        if "watchlist" in found:
            raise FilterError("only one watchlist per filter", field=FIELD, position=at)
        found["watchlist"] = _parse_id(value, "watchlist", vat)
        _check("watchlist", found["watchlist"], access, at)
    elif kind == "watchmap":
        for part_at, part in _parts(value, vat):
            ar_id = _parse_id(part, "watchmap", part_at)
            if ar_id in found["watchmaps"]:
                raise FilterError(f"watchmap {ar_id} is listed twice", field=FIELD,
                                  position=part_at)
            _check("watchmap", ar_id, access, part_at)
            found["watchmaps"].append(ar_id)
    else:
        found["annotators"].append(_parse_topic(value, vat, found["annotators"]))
        _check("annotator", value, access, at)


def _parts(value: str, at: int) -> list[tuple[int, str]]:
    parts, offset = [], at
    for raw in value.split("&"):
        parts.append((offset + len(raw) - len(raw.lstrip()), raw.strip()))
        offset += len(raw) + 1
    return parts


def _parse_id(text: str, kind: str, at: int) -> int:
    if not re.fullmatch(r"[0-9]{1,10}", text) or not 1 <= int(text) <= MAX_ID:
        raise FilterError(f"{kind} id must be a positive integer, not {text!r}",
                          field=FIELD, position=at)
    return int(text)


def _parse_topic(topic: str, at: int, taken: list[str]) -> str:
    if not _TOPIC.fullmatch(topic):
        raise FilterError(f"annotator topic {topic!r} must be a name of letters, digits "
                          "and '_' (at most 64, not starting with a digit)",
                          field=FIELD, position=at)
    if RESERVED_ALIASES.fullmatch(topic):
        raise FilterError(f"annotator topic {topic!r} clashes with a table name",
                          field=FIELD, position=at)
    if topic.lower() in (t.lower() for t in taken):
        raise FilterError(f"annotator {topic} is listed twice", field=FIELD, position=at)
    return topic


def _check(kind: str, key: int | str, access: AccessCheck | None, at: int | None) -> None:
    if access is None:
        return
    answer = access(kind, key)
    if not isinstance(answer, Access):
        raise TypeError(f"access({kind!r}, {key!r}) must return an Access, not {answer!r}")
    if answer is Access.MISSING:
        raise FilterError(f"no {kind} {key}", field=FIELD, position=at)
    if answer is Access.PRIVATE:
        raise FilterError(f"{kind} {key} is private", field=FIELD, position=at)


def _unknown_item(item: str) -> str:
    if item.lower() in _INSTEAD:
        return f"{item} cannot be listed as such: write {_INSTEAD[item.lower()]}"
    close = ([form for form in _FORMS if form.startswith(item.lower())]
             or difflib.get_close_matches(item.lower(), _FORMS, n=1, cutoff=0.6))
    hint = f"; did you mean {close[0]}?" if close else ""
    return f"unknown table {item!r} (allowed: {', '.join(_FORMS)}){hint}"
