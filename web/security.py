"""Passwords, session cookies, CSRF tokens and API tokens.

- Passwords: scrypt (hashlib, RFC 7914; n=2**14, r=8, p=1, 16-byte salt), stored as
  ``scrypt$n$r$p$salt$hash`` (base64) so the cost can be raised later.
- Sessions: a JSON dict signed with HMAC-SHA256 and timestamped (itsdangerous), in an
  HttpOnly SameSite=Lax cookie; tampered or expired cookies are ignored.
- CSRF: a random token kept in the session, echoed by every form (hidden field, or the
  ``X-CSRF-Token`` header for scripts); compared in constant time.
- API tokens: 40 hex characters (160 random bits), like the reference broker's.
"""
from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import os
import re
import secrets
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeTimedSerializer

from solas.secret_files import ensure_secret_file
from solas.settings import Settings

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SALT_BYTES = 16
HASH_BYTES = 32
MIN_PASSWORD = 8


class PasswordError(ValueError):
    """A password that is unacceptable (too short, too long)."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def check_password_strength(password: str) -> None:
    """Refuse passwords shorter than 8 or longer than 1024 characters."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise PasswordError(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > 1024:
        raise PasswordError("the password must have at most 1024 characters")


def hash_password(password: str) -> str:
    """The stored form of a password (scrypt with a random salt)."""
    salt = os.urandom(SALT_BYTES)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R,
                            p=SCRYPT_P, dklen=HASH_BYTES)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str | None) -> bool:
    """True if ``password`` matches the stored form (constant-time comparison)."""
    try:
        kind, n, r, p, salt, digest = (stored or "").split("$")
        if kind != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt),
                                n=int(n), r=int(r), p=int(p), dklen=len(expected),
                                maxmem=2**26)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password(secrets.token_hex(16))


def check_password(password: str, stored: str | None) -> bool:
    """:func:`verify_password`, taking as long for an unknown user or an account
    without a password (``stored`` None or not scrypt) as for a real one: the answer's
    time does not tell which user names exist."""
    if not isinstance(password, str):
        password = ""
    if stored and stored.startswith("scrypt$"):
        return verify_password(password, stored)
    verify_password(password, _dummy_hash())
    return False


def secret_path(settings: Settings) -> Path:
    """The file of the signing key: ``web_secret_file`` or ``<home>/web-secret.key``."""
    return Path(settings.web_secret_file) if settings.web_secret_file else (
        settings.home / "web-secret.key")


def load_secret(settings: Settings) -> bytes:
    """The portal's signing key, created (32 random bytes, mode 0600) on first use."""
    path = secret_path(settings)
    ensure_secret_file(path, lambda: secrets.token_hex(32))
    key = path.read_text().strip()
    if len(key) < 32:
        raise ValueError(f"{path}: the signing key must have at least 32 characters")
    return key.encode()


class SessionSigner:
    """Signs and verifies session cookie values."""

    def __init__(self, secret: bytes, max_age_s: int):
        self._serializer = URLSafeTimedSerializer(secret, salt="solas-session")
        self.max_age_s = max_age_s

    def dumps(self, session: dict) -> str:
        """The signed cookie value of a session dict."""
        return self._serializer.dumps(session)

    def loads(self, value: str | None) -> dict | None:
        """The session of a cookie value, or None if missing, tampered or expired."""
        if not value:
            return None
        try:
            data = self._serializer.loads(value, max_age=self.max_age_s)
        except BadSignature:  # also SignatureExpired
            return None
        return data if isinstance(data, dict) else None


def new_csrf_token() -> str:
    """A fresh CSRF token."""
    return secrets.token_urlsafe(32)


def csrf_matches(expected: str | None, given: str | None) -> bool:
    """Constant-time check of a submitted CSRF token."""
    return bool(expected) and bool(given) and hmac.compare_digest(
        str(expected).encode(), str(given).encode())


def new_api_token() -> str:
    """A fresh API token (40 hex characters)."""
    return secrets.token_hex(20)


TOKEN_DIGEST_CHARS = 64


def token_digest(token: str) -> str:
    """What ``api_tokens.token`` holds for a token: its SHA-256 (64 hex characters).
    A copy of the database alone gives no usable token."""
    return hashlib.sha256(token.strip().lower().encode("ascii", "replace")).hexdigest()


class ApiTokens:
    """API tokens derived from the portal's secret: a token is
    HMAC-SHA256(key, user id and creation time) cut to 40 hex characters, and only its
    :func:`token_digest` is stored, so the portal can show a user their tokens and
    ``/api/auth-token/`` can return the same token each time (as the reference broker
    does) without keeping any token in clear.  Rotating the secret revokes them all."""

    def __init__(self, secret: bytes):
        self._key = hmac.new(secret, b"solas-api-tokens", hashlib.sha256).digest()

    def derive(self, user_id: int, created: datetime.datetime) -> str:
        """The token of ``user_id`` created at ``created`` (microseconds count)."""
        text = f"{int(user_id)}:{created.replace(tzinfo=None).isoformat(timespec='microseconds')}"
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()[:40]


# ------------------------------------------------------------------ links

#: Characters browsers drop from or reinterpret in a URL (tab, newline, space, controls,
#: backslash): a link or redirect target holding one is refused rather than cleaned.
_URL_TRICKS = re.compile(r"[\x00-\x20\x7f\\]")


def is_http_url(url: str) -> bool:
    """True if ``url`` is an absolute http(s) URL with a host and nothing a browser would
    rewrite (so ``javascript:``, ``data:``, ``//host`` and ``java\tscript:`` are not)."""
    if not isinstance(url, str) or _URL_TRICKS.search(url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def local_path(target: str, default: str = "/") -> str:
    """``target`` if it is a path on this site (``/x?y``), else ``default``: never a
    scheme, a host (``//evil``, ``/\\evil``, ``/\t/evil``) or a character that browsers
    strip before they resolve it."""
    if not isinstance(target, str) or not target.startswith("/") or \
            _URL_TRICKS.search(target) or target.startswith("//"):
        return default
    try:
        parts = urlsplit(target)
    except ValueError:
        return default
    return default if parts.scheme or parts.netloc else target
