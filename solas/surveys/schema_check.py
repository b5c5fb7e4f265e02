"""Which fields that Solas relies on does a Rubin writer schema lack?  (Pure code.)

A new Rubin schema may rename or drop a field.  Solas compares each writer schema, when
it first meets it, with the fields it reads:

- :data:`ESSENTIAL`: ids, position and time of the triggering diaSource.  Without one
  no alert of the schema can be stored: every packet is refused with a
  :class:`~solas.surveys.model.DecodeError` naming the field and the schema.
- :data:`FEATURE_INPUTS`: what the light-curve features (:mod:`solas.features.lsst`)
  read (the diaObject's ``ra``/``dec``/``firstDiaSourceMjdTai`` are not: the features
  fall back on the detections).  Without one the alerts are still stored and the features that need it are
  NULL; the ingest logs one warning per schema naming the missing fields.

Each requirement lists the accepted spellings (older schemas and renderings spell some
fields differently, as :mod:`solas.surveys.lsst` and :mod:`solas.features.points` accept).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple


class Requirement(NamedTuple):
    """A field Solas reads: the records it may sit in, its accepted spellings (current
    first) and what needs it."""

    records: tuple[str, ...]
    names: tuple[str, ...]
    needed_for: str

    @property
    def label(self) -> str:
        """``record.field`` with the current spelling, e.g. ``diaSource.psfFlux``."""
        return f"{'/'.join(self.records)}.{self.names[0]}"


R = Requirement
ESSENTIAL: tuple[Requirement, ...] = (
    R(("diaSource",), ("diaSourceId",), "the alert's source id"),
    R(("diaObject", "diaSource"), ("diaObjectId",), "the object id"),
    R(("diaSource",), ("ra", "coord_ra"), "the position"),
    R(("diaSource",), ("dec", "decl", "coord_dec"), "the position"),
    R(("diaSource",), ("midpointMjdTai", "midPointTai"), "the detection time"),
)
"""Fields without which no alert of a schema can be stored."""

_BBB = "BBB* fits"
FEATURE_INPUTS: tuple[Requirement, ...] = (
    R(("diaSource",), ("psfFlux", "psFlux"),
      "latest_psfFlux, <b>_psfFlux, <b>_psfFluxMean, nPosDiaSources, jump1/2, pair colours, "
      "absMag, " + _BBB),
    R(("diaSource",), ("psfFluxErr", "psFluxErr"), "<b>_psfFluxMean(Err), " + _BBB),
    R(("diaSource",), ("band", "filterName"),
      "<b>_* and n<b>Sources, jump1/2, pair colours, " + _BBB),
    R(("diaSource",), ("reliability",), "medianR, latestR, nSourcesGood"),
    R(("diaForcedSource",), ("midpointMjdTai", "midPointTai"), _BBB),
    R(("diaForcedSource",), ("psfFlux", "psFlux"), _BBB),
    R(("diaForcedSource",), ("psfFluxErr", "psFluxErr"), _BBB),
    R(("diaForcedSource",), ("band", "filterName"), _BBB),
)
"""Fields the Rubin features read; without one, those features are NULL."""


class SchemaCheck(NamedTuple):
    """What a Rubin writer schema lacks of what Solas reads."""

    schema: str
    """The schema's version or name, e.g. ``lsst.v12_0``."""
    missing_essential: tuple[Requirement, ...]
    missing_inputs: tuple[Requirement, ...]

    @property
    def storable(self) -> bool:
        """True if the schema has every :data:`ESSENTIAL` field."""
        return not self.missing_essential


def record_fields(schema: Any, out: dict[str, set[str]] | None = None) -> dict[str, set[str]]:
    """Field names of every record defined in a schema JSON object, by short record name
    (the first definition of a name wins)."""
    out = {} if out is None else out
    if isinstance(schema, list):
        for branch in schema:
            record_fields(branch, out)
    elif isinstance(schema, Mapping):
        if schema.get("type") == "record":
            name = str(schema.get("name", "")).rsplit(".", 1)[-1]
            fields = [f for f in schema.get("fields", []) if isinstance(f, Mapping)]
            out.setdefault(name, {str(f.get("name")) for f in fields})
            for f in fields:
                record_fields(f.get("type"), out)
        else:
            record_fields(schema.get("type"), out)
            record_fields(schema.get("items"), out)
    return out


_ALERT_FIELD_RECORDS = {"diasource": "diaSource", "prvdiasources": "diaSource",
                        "prvdiaforcedsources": "diaForcedSource", "diaobject": "diaObject"}
"""Alert fields (lower case) -> the record Solas reads them as, whatever the writer
named the record type (a Spark rendering names it after its path:
``topLevelRecord.prvDiaForcedSources``)."""


def alert_field_records(schema: Mapping[str, Any]) -> dict[str, set[str]]:
    """Field names of the records held by the alert's own fields (``diaSource``,
    ``prvDiaSources`` items, ``prvDiaForcedSources`` items, ``diaObject``), by the
    record name Solas reads them as."""
    out: dict[str, set[str]] = {}
    for field in schema.get("fields", []):
        if not isinstance(field, Mapping):
            continue
        kind = _ALERT_FIELD_RECORDS.get(str(field.get("name", "")).lower())
        if kind is not None:
            for fields in record_fields(field.get("type")).values():
                out.setdefault(kind, set()).update(fields)
                break  # the field's own record comes first; nested ones are not it
    return out


def _missing(records: Mapping[str, set[str]], wanted: tuple[Requirement, ...]
             ) -> tuple[Requirement, ...]:
    return tuple(r for r in wanted
                 if not any(set(r.names) & records.get(rec, set()) for rec in r.records))


def check_schema(schema: Mapping[str, Any], name: str) -> SchemaCheck:
    """Compare a Rubin writer schema (JSON object) with the fields Solas reads; ``name``
    labels it in messages (its version, e.g. ``lsst.v12_0``)."""
    records = record_fields(schema)
    for kind, fields in alert_field_records(schema).items():
        records[kind] = records.get(kind, set()) | fields
    return SchemaCheck(name, _missing(records, ESSENTIAL), _missing(records, FEATURE_INPUTS))


def _spellings(req: Requirement) -> str:
    others = req.names[1:]
    return f" (nor {', '.join(others)})" if others else ""


def essential_message(check: SchemaCheck) -> str:
    """The reason every alert of a schema lacking an essential field is refused."""
    parts = [f"{r.label}{_spellings(r)}, needed for {r.needed_for}"
             for r in check.missing_essential]
    return (f"Rubin schema {check.schema} has no field {'; no field '.join(parts)}: "
            f"alerts of this schema cannot be stored (renamed or removed field?)")


def inputs_message(check: SchemaCheck) -> str:
    """The warning for a schema lacking feature inputs (alerts are still stored)."""
    parts = [f"{r.label}{_spellings(r)} -> {r.needed_for}" for r in check.missing_inputs]
    return (f"Rubin schema {check.schema} lacks fields the features read; its alerts are "
            f"stored and these features are NULL: {'; '.join(parts)}")
