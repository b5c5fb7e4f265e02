"""Field names and primitive types of the ZTF alert schema 4.02, the latest.

Generated from ZwickyTransientFacility/ztf-avro-alert ``schema/*.avsc`` (version 4.02).
Every earlier version Solas reads (3.0-4.01) uses a subset of these fields with the
same types (3.2 lacks ``drb``/``drbversion``; 4.x adds ``fp_hists``), so these lists
are the union over ZTF 3.0-4.02. Nullability is ignored.
"""
from __future__ import annotations

CANDIDATE: tuple[tuple[str, str], ...] = (
    ('jd', 'double'), ('fid', 'int'), ('pid', 'long'), ('diffmaglim', 'float'),
    ('pdiffimfilename', 'string'), ('programpi', 'string'), ('programid', 'int'),
    ('candid', 'long'), ('isdiffpos', 'string'), ('tblid', 'long'), ('nid', 'int'),
    ('rcid', 'int'), ('field', 'int'), ('xpos', 'float'), ('ypos', 'float'), ('ra', 'double'),
    ('dec', 'double'), ('magpsf', 'float'), ('sigmapsf', 'float'), ('chipsf', 'float'),
    ('magap', 'float'), ('sigmagap', 'float'), ('distnr', 'float'), ('magnr', 'float'),
    ('sigmagnr', 'float'), ('chinr', 'float'), ('sharpnr', 'float'), ('sky', 'float'),
    ('magdiff', 'float'), ('fwhm', 'float'), ('classtar', 'float'), ('mindtoedge', 'float'),
    ('magfromlim', 'float'), ('seeratio', 'float'), ('aimage', 'float'), ('bimage', 'float'),
    ('aimagerat', 'float'), ('bimagerat', 'float'), ('elong', 'float'), ('nneg', 'int'),
    ('nbad', 'int'), ('rb', 'float'), ('ssdistnr', 'float'), ('ssmagnr', 'float'),
    ('ssnamenr', 'string'), ('sumrat', 'float'), ('magapbig', 'float'),
    ('sigmagapbig', 'float'), ('ranr', 'double'), ('decnr', 'double'), ('sgmag1', 'float'),
    ('srmag1', 'float'), ('simag1', 'float'), ('szmag1', 'float'), ('sgscore1', 'float'),
    ('distpsnr1', 'float'), ('ndethist', 'int'), ('ncovhist', 'int'),
    ('jdstarthist', 'double'), ('jdendhist', 'double'), ('scorr', 'double'),
    ('tooflag', 'int'), ('objectidps1', 'long'), ('objectidps2', 'long'), ('sgmag2', 'float'),
    ('srmag2', 'float'), ('simag2', 'float'), ('szmag2', 'float'), ('sgscore2', 'float'),
    ('distpsnr2', 'float'), ('objectidps3', 'long'), ('sgmag3', 'float'), ('srmag3', 'float'),
    ('simag3', 'float'), ('szmag3', 'float'), ('sgscore3', 'float'), ('distpsnr3', 'float'),
    ('nmtchps', 'int'), ('rfid', 'long'), ('jdstartref', 'double'), ('jdendref', 'double'),
    ('nframesref', 'int'), ('rbversion', 'string'), ('dsnrms', 'float'), ('ssnrms', 'float'),
    ('dsdiff', 'float'), ('magzpsci', 'float'), ('magzpsciunc', 'float'),
    ('magzpscirms', 'float'), ('nmatches', 'int'), ('clrcoeff', 'float'),
    ('clrcounc', 'float'), ('zpclrcov', 'float'), ('zpmed', 'float'), ('clrmed', 'float'),
    ('clrrms', 'float'), ('neargaia', 'float'), ('neargaiabright', 'float'),
    ('maggaia', 'float'), ('maggaiabright', 'float'), ('exptime', 'float'), ('drb', 'float'),
    ('drbversion', 'string'),
)

PRV_CANDIDATE: tuple[tuple[str, str], ...] = (
    ('jd', 'double'), ('fid', 'int'), ('pid', 'long'), ('diffmaglim', 'float'),
    ('pdiffimfilename', 'string'), ('programpi', 'string'), ('programid', 'int'),
    ('candid', 'long'), ('isdiffpos', 'string'), ('tblid', 'long'), ('nid', 'int'),
    ('rcid', 'int'), ('field', 'int'), ('xpos', 'float'), ('ypos', 'float'), ('ra', 'double'),
    ('dec', 'double'), ('magpsf', 'float'), ('sigmapsf', 'float'), ('chipsf', 'float'),
    ('magap', 'float'), ('sigmagap', 'float'), ('distnr', 'float'), ('magnr', 'float'),
    ('sigmagnr', 'float'), ('chinr', 'float'), ('sharpnr', 'float'), ('sky', 'float'),
    ('magdiff', 'float'), ('fwhm', 'float'), ('classtar', 'float'), ('mindtoedge', 'float'),
    ('magfromlim', 'float'), ('seeratio', 'float'), ('aimage', 'float'), ('bimage', 'float'),
    ('aimagerat', 'float'), ('bimagerat', 'float'), ('elong', 'float'), ('nneg', 'int'),
    ('nbad', 'int'), ('rb', 'float'), ('ssdistnr', 'float'), ('ssmagnr', 'float'),
    ('ssnamenr', 'string'), ('sumrat', 'float'), ('magapbig', 'float'),
    ('sigmagapbig', 'float'), ('ranr', 'double'), ('decnr', 'double'), ('scorr', 'double'),
    ('magzpsci', 'float'), ('magzpsciunc', 'float'), ('magzpscirms', 'float'),
    ('clrcoeff', 'float'), ('clrcounc', 'float'), ('rbversion', 'string'),
)

FP_HIST: tuple[tuple[str, str], ...] = (
    ('field', 'int'), ('rcid', 'int'), ('fid', 'int'), ('pid', 'long'), ('rfid', 'long'),
    ('sciinpseeing', 'float'), ('scibckgnd', 'float'), ('scisigpix', 'float'),
    ('magzpsci', 'float'), ('magzpsciunc', 'float'), ('magzpscirms', 'float'),
    ('clrcoeff', 'float'), ('clrcounc', 'float'), ('exptime', 'float'), ('adpctdif1', 'float'),
    ('adpctdif2', 'float'), ('diffmaglim', 'float'), ('programid', 'int'), ('jd', 'double'),
    ('forcediffimflux', 'float'), ('forcediffimfluxunc', 'float'), ('procstatus', 'string'),
    ('distnr', 'float'), ('ranr', 'double'), ('decnr', 'double'), ('magnr', 'float'),
    ('sigmagnr', 'float'), ('chinr', 'float'), ('sharpnr', 'float'),
)

CUTOUT: tuple[tuple[str, str], ...] = (
    ('fileName', 'string'), ('stampData', 'bytes'),
)

