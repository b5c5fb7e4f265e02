"""What a failed store write means: wait and retry it, or give up on its batch.

A stage retries a step that failed for a reason outside the data (a store away, a
timeout, a deadlock) until it succeeds; retrying a write that the store refuses for
what it is (an unknown column, a missing default, a value too long, a broken
constraint) only stalls the stage, so such a batch goes to the dead-letter topic
instead and the stage moves on.  Pure code: no I/O.

Three kinds of fault:

- :data:`TRANSIENT`: retry later (connection, timeout, deadlock, lock wait, a node
  away, access denied: credentials and grants are the operator's to fix, the data is
  not at fault).  Anything not known to be permanent is transient: an unknown error
  delays a batch, it never loses it.
- :data:`SCHEMA`: the statement cannot succeed for any row (a table or column missing,
  a NOT NULL column without a default that Solas does not write): the whole batch fails.
- :data:`DATA`: some row's values do not fit (too long, out of range, NULL for a NOT
  NULL column, a constraint): the batch can be split to keep its good rows.
"""
from __future__ import annotations

import struct
from typing import Final, NamedTuple

import pymysql.err  # type: ignore[import-untyped]
from aiokafka import errors as kafka_errors  # type: ignore[import-untyped]
from cassandra import (  # type: ignore[import-untyped]
    FunctionFailure,
    RequestValidationException,
    Unauthorized,
)
from cassandra import protocol as cql

TRANSIENT: Final = "transient"
SCHEMA: Final = "schema"
DATA: Final = "data"

#: MariaDB error codes of a statement that can succeed on no row: the schema differs.
MARIADB_SCHEMA_CODES: Final = frozenset({
    1051,  # ER_BAD_TABLE_ERROR: unknown table
    1054,  # ER_BAD_FIELD_ERROR: unknown column
    1064,  # ER_PARSE_ERROR
    1109,  # ER_UNKNOWN_TABLE
    1110,  # ER_FIELD_SPECIFIED_TWICE
    1136,  # ER_WRONG_VALUE_COUNT_ON_ROW
    1146,  # ER_NO_SUCH_TABLE
    1118,  # ER_TOO_BIG_ROWSIZE
    1364,  # ER_NO_DEFAULT_FOR_FIELD: a NOT NULL column without default that is not written
    1166,  # ER_WRONG_COLUMN_NAME
    1267,  # ER_CANT_AGGREGATE_2COLLATIONS
    1630,  # ER_FUNC_INEXISTENT_NAME_COLLISION: unknown function
    1305,  # ER_SP_DOES_NOT_EXIST
})
#: MariaDB error codes of values that do not fit: other rows of the batch may.
MARIADB_DATA_CODES: Final = frozenset({
    1048,  # ER_BAD_NULL_ERROR: NULL for a NOT NULL column
    1062,  # ER_DUP_ENTRY
    1153,  # ER_NET_PACKET_TOO_LARGE: the statement exceeds max_allowed_packet
    1171,  # ER_PRIMARY_CANT_HAVE_NULL
    1216, 1217, 1451, 1452,  # foreign keys
    1263,  # ER_WARN_NULL_TO_NOTNULL
    1264,  # ER_WARN_DATA_OUT_OF_RANGE
    1265,  # WARN_DATA_TRUNCATED
    1292,  # ER_TRUNCATED_WRONG_VALUE
    1300,  # ER_INVALID_CHARACTER_STRING
    1366,  # ER_TRUNCATED_WRONG_VALUE_FOR_FIELD
    1367,  # ER_ILLEGAL_VALUE_FOR_TYPE
    1406,  # ER_DATA_TOO_LONG
    1411,  # ER_WRONG_VALUE_FOR_TYPE
    1690,  # ER_DATA_OUT_OF_RANGE (in an expression)
    3819, 4025,  # check constraint violated (MySQL, MariaDB): JSON_VALID etc.
    4078,  # ER_ILLEGAL_PARAMETER_DATA_TYPES2_FOR_OPERATION
})
#: MariaDB errors that pass: connection, timeout, deadlock, lock wait, a node leaving.
MARIADB_TRANSIENT_CODES: Final = frozenset({
    1021, 1037, 1038, 1040, 1041, 1044, 1045, 1047, 1053, 1114, 1129, 1135, 1142, 1143,
    1152, 1158, 1159, 1160, 1161, 1180, 1181, 1184, 1203, 1205, 1206, 1213, 1290, 1317,
    1615, 1637, 1836, 1927, 1969, 4031,
})
#: Python errors raised while encoding values for a store: the values do not fit.
DATA_ERRORS: Final = (TypeError, ValueError, OverflowError, struct.error)
#: Kafka errors of a message the broker will never take.
KAFKA_DATA_ERRORS: Final = (kafka_errors.MessageSizeTooLargeError,
                            kafka_errors.RecordTooLargeError)


class Fault(NamedTuple):
    """A classified error: its kind and a one-line description naming the error."""

    kind: str
    """:data:`TRANSIENT`, :data:`SCHEMA` or :data:`DATA`."""
    reason: str
    """``<type>: <message>`` (with the MariaDB error code), for logs and dead letters."""

    @property
    def permanent(self) -> bool:
        """True if retrying the same statement cannot cure it."""
        return self.kind != TRANSIENT


def mariadb_code(exc: BaseException) -> int | None:
    """The MariaDB error code of a pymysql/aiomysql error, if it carries one."""
    if isinstance(exc, pymysql.err.MySQLError) and exc.args and isinstance(exc.args[0], int):
        return exc.args[0]
    return None


def mariadb_fault_kind(exc: BaseException) -> str | None:
    """The kind of a pymysql/aiomysql error (aiomysql raises pymysql's classes); None
    for another error.  Known codes first, then pymysql's error class."""
    if not isinstance(exc, pymysql.err.MySQLError):
        return None
    code = mariadb_code(exc)
    if code in MARIADB_TRANSIENT_CODES:
        return TRANSIENT
    if code in MARIADB_SCHEMA_CODES:
        return SCHEMA
    if code in MARIADB_DATA_CODES:
        return DATA
    if code is not None and 2000 <= code < 3000:  # client errors: connection, protocol
        return TRANSIENT
    if isinstance(exc, (pymysql.err.IntegrityError, pymysql.err.DataError)):
        return DATA
    if isinstance(exc, (pymysql.err.ProgrammingError, pymysql.err.NotSupportedError)):
        return SCHEMA
    return TRANSIENT  # OperationalError, InternalError, InterfaceError of unknown codes


def cassandra_fault_kind(exc: BaseException) -> str | None:
    """The kind of a Cassandra driver error; None for another error.  Requests Cassandra
    refuses as invalid (unknown column or table, a value of the wrong type) are
    permanent, except an authorisation failure (the operator's to fix); timeouts,
    unavailable replicas, overload and lost connections pass."""
    if isinstance(exc, (Unauthorized, cql.UnauthorizedErrorMessage)):
        return TRANSIENT
    # the driver raises some server errors as the protocol's own messages (a syntax error)
    if isinstance(exc, (RequestValidationException, cql.RequestValidationException)):
        return SCHEMA
    if isinstance(exc, FunctionFailure):
        return DATA
    return None


def classify_fault(exc: BaseException) -> Fault:
    """Whether ``exc``, raised by a store write, is worth retrying (see the module)."""
    kind = mariadb_fault_kind(exc) or cassandra_fault_kind(exc)
    if kind is None:
        kind = DATA if isinstance(exc, DATA_ERRORS + KAFKA_DATA_ERRORS) else TRANSIENT
    return Fault(kind, describe(exc))


def describe(exc: BaseException) -> str:
    """``<type>: <message>`` of an error, on one line (a MariaDB error with its code)."""
    code = mariadb_code(exc)
    text = str(exc.args[1]) if code is not None and len(exc.args) > 1 else str(exc)
    text = " ".join(text.split())
    return f"{type(exc).__name__} ({code}): {text}" if code is not None else \
        f"{type(exc).__name__}: {text}"


def always_transient(exc: BaseException) -> Fault:
    """A classifier that retries everything (steps with nowhere to put a failed batch)."""
    return Fault(TRANSIENT, describe(exc))
