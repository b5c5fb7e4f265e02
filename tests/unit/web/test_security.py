"""Passwords, signed sessions, CSRF and API tokens."""
from __future__ import annotations

import dataclasses
import os
import stat
import time

import pytest

from solas.settings import Settings
from web.accounts import AccountError, check_account
from web.security import (SessionSigner, check_password_strength, csrf_matches,
                          hash_password, load_secret, new_api_token, new_csrf_token,
                          verify_password)


def test_passwords_hash_with_salt_and_verify():
    stored = hash_password("correct horse battery")
    assert stored.startswith("scrypt$16384$8$1$")
    assert verify_password("correct horse battery", stored)
    assert not verify_password("correct horse batterY", stored)
    assert hash_password("correct horse battery") != stored  # random salt
    assert not verify_password("x", None) and not verify_password("x", "md5$abc")
    assert not verify_password("x", "scrypt$16384$8$1$!!$!!")


def test_password_rules():
    with pytest.raises(ValueError, match="at least 8"):
        check_password_strength("short")
    check_password_strength("long enough")
    with pytest.raises(AccountError, match="user name"):
        check_account("a b", "a@b.org", "long enough", "user")
    with pytest.raises(AccountError, match="e-mail"):
        check_account("alice", "nope", "long enough", "user")
    with pytest.raises(AccountError, match="class"):
        check_account("alice", "a@b.org", "long enough", "superuser")
    check_account("alice.b-c_1", "a@b.org", "long enough", "power")


def test_session_signature_tamper_and_expiry():
    signer = SessionSigner(b"k" * 32, max_age_s=60)
    value = signer.dumps({"uid": 7, "csrf": "abc"})
    assert signer.loads(value) == {"uid": 7, "csrf": "abc"}
    tampered = value[:-2] + ("AA" if value[-2:] != "AA" else "BB")
    assert signer.loads(tampered) is None
    assert SessionSigner(b"o" * 32, 60).loads(value) is None  # another key
    assert signer.loads(None) is None and signer.loads("garbage") is None
    expired = SessionSigner(b"k" * 32, max_age_s=-1)
    assert expired.loads(value) is None


def test_csrf_and_tokens():
    token = new_csrf_token()
    assert csrf_matches(token, token)
    assert not csrf_matches(token, new_csrf_token())
    assert not csrf_matches(token, None) and not csrf_matches(None, token)
    assert not csrf_matches("", "")
    api = new_api_token()
    assert len(api) == 40 and int(api, 16) >= 0 and api != new_api_token()


def test_secret_file_created_private_and_stable(tmp_path):
    settings = dataclasses.replace(Settings(), home=tmp_path / "home")
    key = load_secret(settings)
    path = tmp_path / "home" / "web-secret.key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_secret(settings) == key and len(key) >= 32
    short = tmp_path / "short.key"
    short.write_text("tooshort")
    with pytest.raises(ValueError, match="at least 32"):
        load_secret(dataclasses.replace(settings, web_secret_file=str(short)))


def test_hashing_cost_is_interactive():
    started = time.perf_counter()
    verify_password("x" * 12, hash_password("x" * 12))
    assert time.perf_counter() - started < 2.0


def test_login_takes_as_long_for_unknown_users():
    """Issue 32 item 6: unknown user names were answered 15x faster (no scrypt)."""
    from web.security import check_password
    stored = hash_password("a real password")

    def seconds(stored_hash):
        times = []
        for _ in range(3):
            start = time.perf_counter()
            assert not check_password("a wrong password", stored_hash)
            times.append(time.perf_counter() - start)
        return sorted(times)[1]

    known = seconds(stored)
    for unknown in (None, "", "md5$abc"):
        assert seconds(unknown) > known / 3
    assert check_password("a real password", stored)


def test_api_tokens_are_derived_and_stored_as_digests():
    import datetime
    import hashlib

    from web.security import ApiTokens, token_digest
    keys = ApiTokens(b"k" * 32)
    when = datetime.datetime(2026, 12, 8, 3, 0, 0, 123456)
    token = keys.derive(7, when)
    assert len(token) == 40 and int(token, 16) >= 0
    assert keys.derive(7, when) == token  # the same token every time it is shown
    assert keys.derive(8, when) != token and keys.derive(7, when.replace(microsecond=1)) != token
    assert ApiTokens(b"x" * 32).derive(7, when) != token  # needs the portal's secret
    assert token_digest(token) == hashlib.sha256(token.encode()).hexdigest() != token
    assert token_digest(token.upper()) == token_digest(token)


def test_result_values_are_weighed_by_their_text():
    import decimal

    from web.queries import value_bytes
    assert value_bytes("abc") == 3 and value_bytes(b"\x00" * 10) == 10
    assert value_bytes(12) == value_bytes(1.5) == value_bytes(None) == 8
    assert value_bytes(decimal.Decimal("1.5")) == 8
