"""Which store errors are retried (transient) and which give up on the batch (schema: all
of it; data: the rows at fault)."""
import struct

import pymysql
import pytest
from aiokafka.errors import MessageSizeTooLargeError
from cassandra import (
    InvalidRequest,
    OperationTimedOut,
    ReadTimeout,
    Unauthorized,
    Unavailable,
    WriteTimeout,
)
from cassandra.cluster import NoHostAvailable
from cassandra.protocol import SyntaxException

from solas.stores.faults import (
    DATA,
    SCHEMA,
    TRANSIENT,
    always_transient,
    classify_fault,
    describe,
)


@pytest.mark.parametrize("exc", [
    pymysql.err.OperationalError(2003, "Can't connect to MySQL server on '127.0.0.1'"),
    pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query"),
    pymysql.err.OperationalError(2006, "MySQL server has gone away"),
    pymysql.err.OperationalError(1213, "Deadlock found when trying to get lock"),
    pymysql.err.OperationalError(1205, "Lock wait timeout exceeded; try restarting"),
    pymysql.err.OperationalError(1040, "Too many connections"),
    pymysql.err.OperationalError(1927, "Connection was killed"),
    pymysql.err.OperationalError(1053, "Server shutdown in progress"),
    pymysql.err.OperationalError(1045, "Access denied for user 'solas'@'127.0.0.1'"),
    pymysql.err.OperationalError(1047, "WSREP has not yet prepared node for application use"),
    pymysql.err.OperationalError(1969, "Query execution was interrupted"),
    pymysql.err.OperationalError(9999, "an error this module has never heard of"),
    pymysql.err.InterfaceError(0, ""),
    pymysql.err.OperationalError(),
    ConnectionRefusedError(111, "Connection refused"),
    TimeoutError(),
    OSError("network unreachable"),
    WriteTimeout("timed out", consistency=1, required_responses=1, received_responses=0,
                 write_type=0),
    ReadTimeout("timed out"),
    Unavailable("not enough replicas"),
    OperationTimedOut("no answer"),
    NoHostAvailable("Unable to complete the operation against any hosts", {}),
    Unauthorized("User solas has no MODIFY permission"),
    RuntimeError("something unexpected"),
])
def test_errors_outside_the_data_are_retried(exc):
    fault = classify_fault(exc)
    assert fault.kind == TRANSIENT and not fault.permanent


@pytest.mark.parametrize("exc", [
    pymysql.err.OperationalError(1364, "Field 'diaObjectId' doesn't have a default value"),
    pymysql.err.DataError(1364, "Field 'diaObjectId' doesn't have a default value"),
    pymysql.err.OperationalError(1054, "Unknown column 'ncand' in 'field list'"),
    pymysql.err.ProgrammingError(1146, "Table 'solas.objects' doesn't exist"),
    pymysql.err.ProgrammingError(1064, "You have an error in your SQL syntax"),
    pymysql.err.OperationalError(1136, "Column count doesn't match value count at row 1"),
    pymysql.err.ProgrammingError(1305, "FUNCTION solas.mjdnow does not exist"),
    InvalidRequest("Undefined column name extra in table solas_ztf.detections"),
    SyntaxException(0x2000, "line 1:7 no viable alternative", None),
])
def test_a_schema_mismatch_fails_the_whole_batch(exc):
    fault = classify_fault(exc)
    assert fault.kind == SCHEMA and fault.permanent


@pytest.mark.parametrize("exc", [
    pymysql.err.DataError(1406, "Data too long for column 'tns_name' at row 3"),
    pymysql.err.DataError(1264, "Out of range value for column 'ncand' at row 1"),
    pymysql.err.IntegrityError(1048, "Column 'ra' cannot be null"),
    pymysql.err.IntegrityError(1062, "Duplicate entry '1' for key 'PRIMARY'"),
    pymysql.err.IntegrityError(1452, "Cannot add or update a child row: a foreign key "
                                     "constraint fails"),
    pymysql.err.OperationalError(4025, "CONSTRAINT `annotations.classdict` failed"),
    pymysql.err.DataError(1366, "Incorrect double value: 'x' for column 'ra' at row 2"),
    pymysql.err.IntegrityError(7777, "an integrity error of unknown code"),
    TypeError("unsupported type"),
    ValueError("cannot be encoded"),
    OverflowError("int too big to convert"),
    struct.error("required argument is not an integer"),
    MessageSizeTooLargeError(),
])
def test_values_that_do_not_fit_fail_only_their_rows(exc):
    fault = classify_fault(exc)
    assert fault.kind == DATA and fault.permanent


def test_the_reason_names_the_error_and_its_code_on_one_line():
    exc = pymysql.err.OperationalError(1364, "Field 'diaObjectId' doesn't\nhave a default value")
    assert describe(exc) == ("OperationalError (1364): Field 'diaObjectId' doesn't have a "
                             "default value")
    assert classify_fault(exc).reason == describe(exc)
    assert describe(ValueError("bad")) == "ValueError: bad"


def test_always_transient_retries_even_a_schema_mismatch():
    exc = pymysql.err.OperationalError(1054, "Unknown column 'x'")
    assert not always_transient(exc).permanent
