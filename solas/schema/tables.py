"""The column specs of every Solas table (DESIGN section 4), per survey.

MariaDB holds the queryable tables users write SQL against; Cassandra holds
the light curves and cutouts.  Column names are what users write: keep them.
"""
from __future__ import annotations

from functools import lru_cache

from solas.schema.columns import PACKED_COLUMN, Column, TableSpec, columns_from_fields
from solas.surveys import native_fields
from solas.surveys.lsst import solar_system_fields

C = Column
BANDS = "ugrizy"
HPX_DOC = "HEALPix nested index of the position at order 16 (sky index)"

# --------------------------------------------------------------------------- objects


def _pair_columns(prefix: str) -> tuple[Column, ...]:
    return (C(f"{prefix}PairMJD", "double", "MJD TAI of the pair"),
            C(f"{prefix}PairColourMag", "double", "colour of the pair, mag"),
            C(f"{prefix}PairColourBands", "varchar(4)", "bands of the pair, e.g. g-r"),
            C(f"{prefix}PairColourTemp", "double", "black-body temperature, K"))


def _lsst_objects() -> TableSpec:
    cols: list[Column] = [
        C("diaObjectId", "bigint", "Rubin DIA object id", nullable=False),
        C("ra", "double", "right ascension, deg"), C("decl", "double", "declination, deg"),
        C("firstDiaSourceMjdTai", "double", "MJD TAI of the first detection"),
        C("lastDiaSourceMjdTai", "double", "MJD TAI of the latest detection"),
        C("latest_psfFlux", "double", "latest PSF flux, nJy")]
    for b in BANDS:
        cols += [C(f"{b}_psfFlux", "double", f"latest {b} PSF flux, nJy"),
                 C(f"{b}_latestMJD", "double", f"MJD TAI of latest {b} detection"),
                 C(f"{b}_psfFluxMean", "double", f"mean {b} PSF flux, nJy"),
                 C(f"{b}_psfFluxMeanErr", "double", f"error of mean {b} flux, nJy")]
    cols += [C("medianR", "double", "median reliability"),
             C("latestR", "double", "latest reliability"),
             C("nDiaSources", "int", "number of detections"),
             C("nPosDiaSources", "int", "number of positive detections"),
             C("nPosDiaSourcesNights", "int", "nights with positive detections"),
             C("nSourcesGood", "int", "detections passing quality flags")]
    cols += [C(f"n{b}Sources", "int", f"number of {b} detections") for b in BANDS]
    cols += [C("tns_name", "varchar(32)", "TNS name within 1.5 arcsec"),
             C("absMag", "double", "absolute magnitude"),
             C("absMagMJD", "double", "MJD of absMag"),
             C("BBBRiseRate", "double", "Bazin rise rate, 1/day"),
             C("BBBFallRate", "double", "Bazin fall rate, 1/day"),
             C("BBBTemp", "double", "black-body temperature, K"),
             C("BBBPeakFlux", "double", "fitted peak flux, nJy"),
             C("BBBPeakMJD", "double", "fitted peak MJD"),
             C("BBBPeakAbsMag", "double", "fitted peak absolute magnitude"),
             C("glat", "double", "galactic latitude, deg"),
             C("ebv", "double", "SFD E(B-V), mag"),
             C("jump1", "double", "largest jump over bands, sigma"),
             C("jump2", "double", "second largest jump over bands, sigma"),
             *_pair_columns("latest"), *_pair_columns("penultimate"),
             C("hpx16", "bigint", HPX_DOC),
             C("timestamp", "datetime", "when Solas last updated the row")]
    native = native_fields("lsst")["object"]
    columns = columns_from_fields([(n, k) for n, k in native if n != "dec"], tuple(cols))
    return TableSpec("objects", columns, ("diaObjectId",),
                     "One row per Rubin DIA object: features and latest state",
                     indexes=(("hpx16",), ("lastDiaSourceMjdTai",), ("tns_name",)))


ZTF_OBJECT_DOUBLES = (
    "ramean decmean rastd decstd maggmin maggmax maggmean magrmin magrmax magrmean gmag "
    "rmag dmdt_g dmdt_r dmdt_g_err dmdt_r_err jdgmax jdrmax jdmax jdmin g_minus_r "
    "jd_g_minus_r glatmean glonmean sgmag1 srmag1 sgscore1 distpsnr1 mag_g02 mag_g08 "
    "mag_g28 mag_r02 mag_r08 mag_r28").split()


def _ztf_objects() -> TableSpec:
    cols = (C("objectId", "varchar(16)", "ZTF object id", nullable=False),
            C("ncand", "int", "number of detections"),
            *(C(n, "double") for n in ZTF_OBJECT_DOUBLES),
            C("ssnamenr", "varchar(16)", "nearest solar-system object"),
            C("ncandgp", "int", "positive detections"),
            C("ncandgp_7", "int", "positive detections in the last 7 days"),
            C("ncandgp_14", "int", "positive detections in the last 14 days"),
            C("tns_name", "varchar(32)", "TNS name within 1.5 arcsec"),
            C("hpx16", "bigint", HPX_DOC),
            C("timestamp", "datetime", "when Solas last updated the row"))
    return TableSpec("objects", cols, ("objectId",),
                     "One row per ZTF object: features and latest state",
                     indexes=(("hpx16",), ("jdmax",), ("tns_name",)))


# ------------------------------------------------------------ solar-system objects

#: Geometry of an ``ssSource`` that ``ss_objects`` keeps for the latest detection:
#: Solas name (the lsst.v10+ name) -> the names older schemas (v8-v9) give it.
SS_GEOMETRY: dict[str, tuple[str, ...]] = {
    "phaseAngle": ("phaseAngle",), "helioRange": ("helioRange", "heliocentricDist"),
    "topoRange": ("topoRange", "topocentricDist"), "elongation": ("elongation",),
    "ephVmag": ("ephVmag", "predictedVMagnitude"), "eclLambda": ("eclLambda", "eclipticLambda"),
    "eclBeta": ("eclBeta", "eclipticBeta")}
_SS_GEOMETRY_DOCS = {
    "phaseAngle": "Sun-object-observer angle, deg", "helioRange": "distance from the Sun, au",
    "topoRange": "distance from the observer, au", "elongation": "solar elongation, deg",
    "ephVmag": "predicted V magnitude, mag", "eclLambda": "ecliptic longitude, deg",
    "eclBeta": "ecliptic latitude, deg"}
#: The diaSource columns of an ``ss_sources`` row (besides its keys).
SS_SOURCE_DIA_COLUMNS: tuple[Column, ...] = (
    C("diaObjectId", "bigint", "the diaObject of the detection, if it has one (else NULL)"),
    C("band", "varchar(4)", "ugrizy"),
    C("psfFlux", "double", "PSF flux, nJy"), C("psfFluxErr", "double", "nJy"),
    C("ra", "double", "deg"), C("decl", "double", "deg"),
    C("snr", "double", "signal to noise"), C("reliability", "double", "real/bogus score"),
    C("extendedness", "double"), C("trailLength", "double", "arcsec"))


def _ss_objects() -> TableSpec:
    cols: list[Column] = [
        C("ssObjectId", "bigint", "Rubin solar-system object id", nullable=False),
        C("designation", "varchar(64)", "MPC designation (packed for MPCORB)"),
        C("ra", "double", "latest detection, deg"), C("decl", "double", "latest, deg"),
        C("firstDiaSourceMjdTai", "double", "MJD TAI of the first stored detection"),
        C("lastDiaSourceMjdTai", "double", "MJD TAI of the latest detection"),
        C("latest_psfFlux", "double", "latest PSF flux, nJy"),
        C("latest_band", "varchar(4)", "band of the latest detection"),
        C("nDiaSources", "int", "stored detections")]
    cols += [C(f"n{b}Sources", "int", f"stored {b} detections") for b in BANDS]
    for b in BANDS:
        cols += [C(f"{b}_psfFlux", "double", f"latest {b} PSF flux, nJy"),
                 C(f"{b}_latestMJD", "double", f"MJD TAI of the latest {b} detection")]
    cols += [C(name, "double", f"{doc} (latest detection)")
             for name, doc in _SS_GEOMETRY_DOCS.items()]
    cols += [C("hpx16", "bigint", HPX_DOC),
             C("timestamp", "datetime", "when Solas last updated the row")]
    fields = solar_system_fields()
    orbit = _distinct([(n, k) for part in ("mpc_orbits", "MPCORB", "ssObject")
                       for n, k in fields[part]], cols)
    return TableSpec("ss_objects", columns_from_fields(orbit, tuple(cols)), ("ssObjectId",),
                     "One row per Rubin solar-system object: latest orbit (mpc_orbits, "
                     "MPCORB or ssObject as Rubin sends them), per-band photometry and "
                     "geometry of its detections",
                     indexes=(("designation",), ("lastDiaSourceMjdTai",), ("hpx16",)))


def _distinct(fields: list[tuple[str, str]], first: list[Column]) -> list[tuple[str, str]]:
    """``fields`` without the names (compared case-insensitively, as MariaDB does) of
    ``first`` or of an earlier field: MPCORB and mpc_orbits share ``a``, ``e``, ``q``,
    ``node`` (the same elements, in the same units)."""
    seen = {c.name.lower() for c in first}
    out = []
    for name, kind in fields:
        if name.lower() not in seen:
            seen.add(name.lower())
            out.append((name, kind))
    return out


def _ss_sources() -> TableSpec:
    keys = (C("diaSourceId", "bigint", "Rubin diaSource id", nullable=False),
            C("ssObjectId", "bigint", "its solar-system object", nullable=False),
            C("midpointMjdTai", "double", "MJD TAI of the detection"))
    ss = _distinct(solar_system_fields()["ssSource"], [*keys, *SS_SOURCE_DIA_COLUMNS])
    return TableSpec("ss_sources", columns_from_fields(ss, (*keys, *SS_SOURCE_DIA_COLUMNS)),
                     ("diaSourceId",),
                     "One row per detection (diaSource) of a solar-system object, with "
                     "its ssSource", indexes=(("ssObjectId", "midpointMjdTai"),))


def solar_system_tables(survey: str) -> tuple[TableSpec, ...]:
    """The MariaDB solar-system tables (Rubin only)."""
    return (_ss_objects(), _ss_sources()) if survey == "lsst" else ()


# ------------------------------------------------------------------- shared tables

def _sherlock(object_col: Column) -> TableSpec:
    cols = (object_col,
            C("classification", "varchar(16)", "VS CV BS AGN NT SN ORPHAN"),
            C("association_type", "varchar(16)", "SYNONYM or ASSOCIATION"),
            C("catalogue_table_name", "varchar(64)"), C("catalogue_object_id", "varchar(64)"),
            C("catalogue_object_type", "varchar(32)"),
            C("raDeg", "double", "deg"), C("decDeg", "double", "deg"),
            C("separationArcsec", "double", "arcsec"),
            C("northSeparationArcsec", "double", "arcsec"),
            C("eastSeparationArcsec", "double", "arcsec"),
            C("physical_separation_kpc", "double", "kpc"),
            C("direct_distance", "double", "Mpc"), C("distance", "double", "Mpc"),
            C("z", "double"), C("photoZ", "double"), C("photoZErr", "double"),
            C("Mag", "double", "mag"), C("MagFilter", "varchar(16)"), C("MagErr", "double"),
            C("classificationReliability", "int", "1 synonym, 2 association, 3 weak"),
            C("major_axis_arcsec", "double", "arcsec"),
            C("annotator", "varchar(128)"), C("description", "text"), C("summary", "text"))
    return TableSpec("sherlock_classifications", cols, (object_col.name,),
                     "Sherlock-style contextual classification, one row per object",
                     indexes=(("classification",),))


def _user_tables(object_col: Column) -> list[TableSpec]:
    oid = object_col.name
    return [
        TableSpec("users", (
            C("id", "int", nullable=False), C("username", "varchar(64)", nullable=False),
            C("email", "varchar(255)"), C("password_hash", "varchar(255)"),
            C("user_class", "varchar(16)", "anonymous, user or power", default="'user'"),
            C("is_admin", "bool", default="0"),
            C("created", "datetime", default="CURRENT_TIMESTAMP(6)")),
            ("id",), "Accounts", indexes=(("username",),), auto_increment="id"),
        TableSpec("api_tokens", (
            C("token", "varchar(64)", nullable=False), C("user", "int", nullable=False),
            C("created", "datetime", default="CURRENT_TIMESTAMP(6)")),
            ("token",), "API tokens", indexes=(("user",),)),
        TableSpec("watchlists", (
            C("wl_id", "int", nullable=False), C("user", "int"), C("name", "varchar(255)"),
            C("description", "text"), C("active", "bool", default="0"),
            C("public", "bool", default="0"),
            C("radius", "double", "default cone radius, arcsec", default="2"),
            C("created", "datetime", default="CURRENT_TIMESTAMP(6)"),
            C("modified", "datetime"), C("expires", "datetime")),
            ("wl_id",), "Watchlists", indexes=(("user",),), auto_increment="wl_id"),
        TableSpec("watchlist_cones", (
            C("cone_id", "int", nullable=False), C("wl_id", "int", nullable=False),
            C("name", "varchar(255)"), C("ra", "double", "deg"), C("decl", "double", "deg"),
            C("radius", "double", "arcsec; NULL means the watchlist default")),
            ("cone_id",), "Watchlist cones", indexes=(("wl_id",),),
            auto_increment="cone_id"),
        TableSpec("watchlist_hits", (
            object_col, C("wl_id", "int", nullable=False),
            C("cone_id", "int", nullable=False), C("arcsec", "double", "separation"),
            C("name", "varchar(255)", "cone name")),
            (oid, "cone_id"), "Objects inside watchlist cones", indexes=(("wl_id",),)),
        TableSpec("watchmaps", (
            C("ar_id", "int", nullable=False), C("user", "int"), C("name", "varchar(255)"),
            C("description", "text"), C("moc", "bytes", "MOC FITS"),
            C("mocimage", "bytes", "sky preview PNG"), C("area_deg2", "double", "deg^2"),
            C("active", "bool", default="0"), C("public", "bool", default="0"),
            C("created", "datetime", default="CURRENT_TIMESTAMP(6)"),
            C("modified", "datetime"), C("expires", "datetime"),
            C("mw_id", "int", "the GW sky map (mma_areas) it was made from, if any")),
            ("ar_id",), "Watchmaps (MOC sky regions)", indexes=(("user",),),
            auto_increment="ar_id"),
        TableSpec("area_hits", (object_col, C("ar_id", "int", nullable=False)),
                  (oid, "ar_id"), "Objects inside watchmaps", indexes=(("ar_id",),)),
        TableSpec("mma_areas", (
            C("mw_id", "int", nullable=False), C("event_id", "varchar(64)"),
            C("event_date", "datetime"), C("moc10", "bytes"), C("moc50", "bytes"),
            C("moc90", "bytes"), C("area90_deg2", "double", "deg^2"),
            C("params", "json", "event parameters"),
            C("level", "double", "credible region whose alerts are recorded in "
                                 "mma_area_hits, %"),
            C("skymap", "bytes", "the map's pixels within that region "
                                 "(solas.skymatch.skymap_to_bytes)"),
            C("created", "datetime", default="CURRENT_TIMESTAMP(6)")),
            ("mw_id",), "Gravitational-wave and other multi-messenger sky maps",
            indexes=(("event_id",),), auto_increment="mw_id"),
        TableSpec("mma_area_hits", (
            object_col, C("mw_id", "int", nullable=False),
            C("contour", "double", "smallest credible region containing the alert, %"),
            C("probdens", "double", "probability density at the alert, 1/deg^2")),
            (oid, "mw_id"), "Objects inside multi-messenger sky maps",
            indexes=(("mw_id",),)),
        TableSpec("annotators", (
            C("topic", "varchar(64)", nullable=False), C("owner", "int"),
            C("description", "text"), C("url", "varchar(1024)"),
            C("active", "bool", default="1"), C("public", "bool", default="1"),
            C("fast", "bool", default="0")),
            ("topic",), "Classifiers allowed to annotate objects"),
        TableSpec("annotations", (
            object_col, C("topic", "varchar(64)", nullable=False),
            C("version", "varchar(64)"), C("classification", "varchar(80)"),
            C("explanation", "text"), C("classdict", "json"), C("url", "varchar(1024)"),
            C("timestamp", "datetime", default="CURRENT_TIMESTAMP(6)")),
            (oid, "topic"), "Annotations, one per object and annotator",
            indexes=(("topic",),)),
        TableSpec("filters", (
            C("id", "int", nullable=False), C("user", "int"), C("name", "varchar(255)"),
            C("description", "text"), C("selected", "text"), C("conditions", "text"),
            C("tables", "text"), C("real_sql", "text"), C("public", "bool", default="0"),
            C("run", "smallint", "0 off, 1 on alert, 2 on annotation, 3 both",
              default="0"),
            C("output", "smallint", "0 none, 1 email, 2 kafka, 3 +lite lc, 4 +full alert",
              default="0"),
            C("topic_name", "varchar(255)"),
            C("byte_quota", "bigint", "daily bytes allowed on the topic"),
            C("created", "datetime", default="CURRENT_TIMESTAMP(6)"),
            C("modified", "datetime"), C("expires", "datetime"),
            C("last_error", "text", "latest error of the filter in the stream"),
            C("last_error_at", "datetime")),
            ("id",), "User filters", indexes=(("user",),), auto_increment="id"),
        TableSpec("filter_emitted", (
            C("filter_id", "int", nullable=False),
            C("source_id", "bigint", "the alert (ZTF candid, Rubin diaSourceId)",
              nullable=False),
            C("origin", "varchar(255)", "topic/partition/offset of the record that matched"),
            C("committed", "bool", "its Kafka transaction committed", default="0"),
            C("emitted", "datetime", "when it was recorded, UTC",
              default="CURRENT_TIMESTAMP(6)"),
            C("owner", "varchar(255)", "Kafka transactional id of the worker sending it")),
            ("filter_id", "source_id"),
            "Ledger of filter matches sent: a replayed alert is not emitted twice",
            indexes=(("source_id",),)),
        TableSpec("filter_quota", (
            C("filter_id", "int", nullable=False),
            C("day", "date", "UTC day", nullable=False),
            C("bytes", "bigint", "bytes the filter sent to its Kafka topic that day",
              nullable=False, default="0")),
            ("filter_id", "day"),
            "Bytes each filter sent to its topic per UTC day, by every worker, against "
            "filters.byte_quota"),
        TableSpec("email_queue", (
            C("filter_id", "int", nullable=False),
            C("object_key", "varchar(32)", "object id as text", nullable=False),
            C("payload", "json", "the match as sent to Kafka"),
            C("queued", "datetime", default="CURRENT_TIMESTAMP(6)")),
            ("filter_id", "object_key"), "Matches waiting for the e-mail digest"),
        TableSpec("housekeeping", (
            C("task", "varchar(64)", "e-mail digests, ledger pruning, ...", nullable=False),
            C("owner", "varchar(255)", "the worker holding the task's lease"),
            C("lease_until", "datetime", "UTC end of the lease unless renewed"),
            C("next_run", "datetime", "UTC time the task is due"),
            C("last_run", "datetime", "UTC start of its last run"),
            C("last_error", "text", "why its last run failed (then retried early)")),
            ("task",), "Periodic tasks: one worker at a time runs each (a lease), on a "
            "schedule kept across restarts"),
        TableSpec("crossmatch_tns", (
            C("tns_name", "varchar(32)", nullable=False), C("tns_prefix", "varchar(8)"),
            C("ra", "double", "deg"), C("decl", "double", "deg"),
            C("type", "varchar(64)"), C("z", "double"),
            C("discovery_date", "datetime"), C("discovery_mag", "double"),
            C("discovery_filter", "varchar(32)"), C("reporting_group", "varchar(128)"),
            C("source_group", "varchar(128)"), C("internal_names", "text"),
            C("hpx16", "bigint", HPX_DOC)),
            ("tns_name",), "Transient Name Server public objects",
            indexes=(("hpx16",),)),
    ]


def _catalogue_tables() -> list[TableSpec]:
    """Sky-context catalogues in one normalised layout (see ``catalogs.model``)."""
    return [
        TableSpec("catalogues", (
            C("name", "varchar(64)", nullable=False), C("role", "varchar(64)"),
            C("source", "text"), C("licence", "text"), C("url", "text"),
            C("row_count", "bigint"), C("version", "varchar(64)", "hash of the loaded file"),
            C("loaded", "datetime", default="CURRENT_TIMESTAMP(6)")),
            ("name",), "Catalogues loaded for the sky-context classifier"),
        TableSpec("catalogue_sources", (
            C("catalogue", "varchar(64)", nullable=False),
            C("seq", "int", "row number within the catalogue file", nullable=False),
            C("id", "varchar(64)", "the catalogue's own designation"),
            C("ra", "double", "deg"), C("decl", "double", "deg"),
            C("type", "varchar(64)", "object type as the catalogue writes it"),
            C("mag", "double", "mag"), C("mag_filter", "varchar(16)"),
            C("mag_err", "double", "mag"), C("z", "double", "spectroscopic redshift"),
            C("photo_z", "double"), C("photo_z_err", "double"),
            C("distance", "double", "Mpc"),
            C("direct", "bool", "distance is redshift-independent", default="0"),
            C("major_axis", "double", "full length, arcsec"),
            C("minor_axis", "double", "full length, arcsec"),
            C("position_angle", "double", "deg east of north"),
            C("role", "smallint", "catalogs.model.Role"),
            C("hpx16", "bigint", HPX_DOC)),
            ("catalogue", "seq"), "Sources of every loaded catalogue",
            indexes=(("hpx16",), ("id",))),
    ]


@lru_cache(maxsize=2)
def mariadb_tables(survey: str) -> tuple[TableSpec, ...]:
    """Every MariaDB table of a deployment of ``survey``."""
    if survey == "lsst":
        objects, object_col = _lsst_objects(), C("diaObjectId", "bigint", nullable=False)
    else:
        objects, object_col = _ztf_objects(), C("objectId", "varchar(16)", nullable=False)
    return (objects, _sherlock(object_col), *_user_tables(object_col), *_catalogue_tables(),
            *solar_system_tables(survey))


# --------------------------------------------------------------- Cassandra tables

# Per survey: light-curve kind -> (table name, key columns with their kinds).
LIGHTCURVE_KEYS: dict[str, dict[str, tuple[str, tuple[Column, ...]]]] = {
    "ztf": {
        "detections": ("candidates", (C("objectId", "text"), C("jd", "double"),
                                      C("candid", "bigint"))),
        "forced": ("forcedphot", (C("objectId", "text"), C("jd", "double"),
                                  C("fid", "int"))),
        "nondetections": ("noncandidates", (C("objectId", "text"), C("jd", "double"),
                                            C("fid", "int"))),
    },
    "lsst": {
        "detections": ("diaSources", (C("diaObjectId", "bigint"),
                                      C("midpointMjdTai", "double"),
                                      C("diaSourceId", "bigint"))),
        "forced": ("diaForcedSources", (C("diaObjectId", "bigint"),
                                        C("midpointMjdTai", "double"),
                                        C("diaForcedSourceId", "bigint"))),
        "nondetections": ("diaNondetectionLimits", (C("diaObjectId", "bigint"),
                                                    C("midpointMjdTai", "double"),
                                                    C("band", "text"))),
    },
}
# Older schemas and renderings spell some key columns differently.
KEY_ALIASES: dict[str, tuple[str, ...]] = {
    "midpointMjdTai": ("midPointTai",),
    "diaForcedSourceId": ("forcedSourceOnDiaObjectId",),
    "band": ("filterName",),
}
CUTOUT_TYPES = ("Science", "Template", "Difference")


#: Per survey and kind: the native columns besides the keys that stay typed Cassandra
#: columns (what a light curve is plotted and most often selected with).  The other
#: native columns of a point are packed into one JSON column,
#: :data:`~solas.schema.columns.PACKED_COLUMN`: Cassandra's cost is per stored cell, and a
#: ZTF detection has about 60 non-null values.
LIGHTCURVE_TYPED: dict[str, dict[str, tuple[str, ...]]] = {
    "ztf": {
        "detections": ("fid", "ra", "dec", "magpsf", "sigmapsf", "isdiffpos", "diffmaglim",
                       "rb"),
        "forced": ("forcediffimflux", "forcediffimfluxunc", "magzpsci", "diffmaglim"),
        "nondetections": ("diffmaglim",),
    },
    "lsst": {
        "detections": ("band", "ra", "dec", "psfFlux", "psfFluxErr", "snr", "reliability"),
        "forced": ("band", "ra", "dec", "psfFlux", "psfFluxErr"),
        "nondetections": ("diaNoise",),
    },
}


@lru_cache(maxsize=2)
def lightcurve_tables(survey: str) -> dict[str, TableSpec]:
    """Cassandra light-curve tables keyed by kind, partitioned by object id and
    clustered by time then source id.  Every native survey column is declared: the keys
    and :data:`LIGHTCURVE_TYPED` as columns, the others packed into one JSON column."""
    fields = native_fields(survey)
    specs = {}
    for kind, (name, keys) in LIGHTCURVE_KEYS[survey].items():
        native = columns_from_fields(fields.get(kind, []), keys)
        typed = {k.name for k in keys} | set(LIGHTCURVE_TYPED[survey][kind])
        columns = (*(c for c in native if c.name in typed),
                   C(PACKED_COLUMN, "json", "the other native columns, a JSON object"))
        specs[kind] = TableSpec(name, columns, tuple(k.name for k in keys),
                                f"{survey} {kind}, one row per point",
                                packed=tuple(c for c in native if c.name not in typed))
    return specs


#: The Cassandra table of solar-system detections: the diaSource and its ssSource in one
#: row, partitioned by ssObjectId and clustered by time, so an object's detections are
#: read back by its ssObjectId (:func:`solar_system_lightcurve`).
SS_LIGHTCURVE_KIND = "solar_system"
SS_LIGHTCURVE_KEYS = (C("ssObjectId", "bigint"), C("midpointMjdTai", "double"),
                      C("diaSourceId", "bigint"))
SS_LIGHTCURVE_TYPED = ("diaObjectId", "band", "ra", "dec", "psfFlux", "psfFluxErr", "snr",
                       "reliability", "phaseAngle", "helioRange", "topoRange")


@lru_cache(maxsize=2)
def solar_system_lightcurve(survey: str) -> dict[str, TableSpec]:
    """``{SS_LIGHTCURVE_KIND: spec}`` of the Cassandra table ``ssSources`` (Rubin; ``{}``
    for ZTF): every native diaSource and ssSource column (union over v7-v11.x), the keys
    and :data:`SS_LIGHTCURVE_TYPED` as columns, the others packed into one JSON column."""
    if survey != "lsst":
        return {}
    fields = [*native_fields(survey)["detections"], *solar_system_fields()["ssSource"]]
    native = columns_from_fields(fields, SS_LIGHTCURVE_KEYS)
    typed = {k.name for k in SS_LIGHTCURVE_KEYS} | set(SS_LIGHTCURVE_TYPED)
    columns = (*(c for c in native if c.name in typed),
               C(PACKED_COLUMN, "json", "the other native columns, a JSON object"))
    return {SS_LIGHTCURVE_KIND: TableSpec(
        "ssSources", columns, tuple(k.name for k in SS_LIGHTCURVE_KEYS),
        "lsst solar-system detections (diaSource + ssSource), one row per detection",
        packed=tuple(c for c in native if c.name not in typed))}


#: Cutouts are written once, read by key and expire together: time windows of a day,
#: dropped whole when expired, and within the current window SSTables are merged only
#: 32 at a time (Cassandra's default of 4 rewrote each night's stamps again and again,
#: gigabytes in the middle of a replay).
CUTOUT_COMPACTION = (("class", "TimeWindowCompactionStrategy"),
                     ("compaction_window_unit", "DAYS"), ("compaction_window_size", "1"),
                     ("min_threshold", "32"), ("max_threshold", "64"))


def cutout_table(survey: str, ttl_s: int) -> TableSpec:
    """Cassandra cutouts keyed by source id and type, expiring after ``ttl_s`` s."""
    source = "candid" if survey == "ztf" else "diaSourceId"
    cols = (C(source, "bigint"), C("cutoutType", "text", "Science, Template or Difference"),
            C("objectId", "text", "object id as text"), C("stamp", "bytes", "FITS stamp"))
    return TableSpec("cutouts", cols, (source, "cutoutType"), "Image cutouts with a TTL",
                     default_ttl_s=ttl_s, compressed=False, compaction=CUTOUT_COMPACTION)
