"""API tokens: a name, a role, an expiry; the token itself is shown once and stored only as a hash.

Framework-neutral (no Flask): ``ecowatch tokens`` makes, lists and revokes them; the web app's
``Authorization: Bearer`` check calls :func:`token_account`. A token reads as
``ecw_<id>_<secret>``: ``id`` (12 hex digits) is public and finds the row, ``secret`` (43
URL-safe characters, 256 random bits) is never stored; the row keeps the SHA-256 of the whole
token, compared in constant time (:func:`hmac.compare_digest`), so neither the lookup nor the
comparison tells a guesser how much of a secret was right. Revoking keeps the row (with its
time) so that ``tokens list`` shows what was revoked and a name is not silently re-used.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from typing import Any

import pandas as pd

from layers.accounts import check_role_name
from layers.errors import AccountError
from layers.redaction import Role
from layers.store import Store

logger = logging.getLogger(__name__)

TABLE = "api_tokens"
PREFIX = "ecw_"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_TOKEN_PATTERN = re.compile(r"ecw_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
MAX_EXPIRY_DAYS = 3650


@dataclass(frozen=True)
class ApiToken:
    """A token as ``tokens list`` shows it (never with its secret or hash)."""

    name: str
    token_id: str
    role: Role
    created: dt.datetime | None
    expires: dt.datetime | None
    revoked: dt.datetime | None
    last_used: dt.datetime | None

    def state(self, now: dt.datetime | None = None) -> str:
        """``active``, ``expired`` or ``revoked``."""
        now = now or _now()
        if self.revoked is not None:
            return "revoked"
        if self.expires is not None and self.expires <= now:
            return "expired"
        return "active"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _when(value: Any) -> dt.datetime | None:
    if value is None or pd.isna(value):
        return None
    ts = pd.Timestamp(value)
    return (ts.tz_convert("UTC") if ts.tzinfo else ts.tz_localize("UTC")).to_pydatetime()


def _token(row: Any) -> ApiToken:
    return ApiToken(
        name=str(row["name"]), token_id=str(row["token_id"]), role=check_role_name(str(row["role"])),
        created=_when(row["created"]), expires=_when(row["expires"]), revoked=_when(row["revoked"]), last_used=_when(row["last_used"]),
    )


def check_name(name: str) -> str:
    """``name`` if it is 1-64 letters, digits or ``. _ @ -`` (starting with a letter or digit)."""
    if not NAME_PATTERN.fullmatch(name or ""):
        raise AccountError(f"token name {name[:80]!r}: use 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit")
    return name


def add_token(store: Store, name: str, role: str, *, expires_days: float | None = None) -> str:
    """Make the token ``name`` reading as ``role``; returns the token (shown once, not stored).

    Raises
    ------
    AccountError
        For a bad name, role or expiry, or a name already used (revoked tokens keep theirs).
    """
    check_name(name)
    who = check_role_name(role)
    if expires_days is not None and not 0 < expires_days <= MAX_EXPIRY_DAYS:
        raise AccountError(f"token {name!r}: --expires {expires_days:g} days: give 1 to {MAX_EXPIRY_DAYS} days, or leave it out for no expiry")
    token_id = secrets.token_hex(6)
    token = f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    now = _now()
    with store.transaction():
        if len(store.read(TABLE, where={"name": name}, columns=["name"])):
            raise AccountError(f"token {name!r} exists (revoked tokens keep their name); choose another name")
        store.upsert(TABLE, pd.DataFrame([{
            "name": name, "token_id": token_id, "token_hash": _hash(token), "role": who, "created": now,
            "expires": now + dt.timedelta(days=expires_days) if expires_days is not None else None,
            "revoked": None, "last_used": None,
        }]))
    logger.info("API token %s (%s) added, id %s", name, who, token_id)
    return token


def list_tokens(store: Store) -> list[ApiToken]:
    """Every token, by name (revoked and expired ones too)."""
    rows = store.read(TABLE, columns=["name", "token_id", "role", "created", "expires", "revoked", "last_used"])
    return sorted((_token(r) for _, r in rows.iterrows()), key=lambda t: t.name)


def revoke_token(store: Store, name: str) -> ApiToken:
    """Revoke the token ``name`` at once (the next request with it is refused)."""
    with store.transaction():
        rows = store.read(TABLE, where={"name": name})
        if not len(rows):
            raise AccountError(f"no token {name!r}; `ecowatch tokens list` shows them")
        if not pd.isna(rows.iloc[0]["revoked"]):
            raise AccountError(f"token {name!r} was already revoked")
        store.upsert(TABLE, pd.DataFrame([{"name": name, "revoked": _now()}]))
    logger.info("API token %s revoked", name)
    return next(t for t in list_tokens(store) if t.name == name)


def token_account(store: Store, token: str, *, record: Store | None = None) -> ApiToken | None:
    """The active token that ``token`` is, else ``None`` (malformed, unknown, revoked or expired).

    ``record``: a writable store in which to note the token's last use (at most once a minute).
    """
    found = _TOKEN_PATTERN.fullmatch(token or "")
    if found is None:
        return None
    rows = store.read(TABLE, where={"token_id": found.group(1)})
    if len(rows) != 1:
        hmac.compare_digest(_hash(token), _hash(""))  # the same work as a known id
        return None
    row = rows.iloc[0]
    if not hmac.compare_digest(_hash(token), str(row["token_hash"])):
        return None
    api_token = _token(row)
    now = _now()
    if api_token.state(now) != "active":
        return None
    if record is not None and (api_token.last_used is None or now - api_token.last_used > dt.timedelta(minutes=1)):
        record.upsert(TABLE, pd.DataFrame([{"name": api_token.name, "last_used": now}]))
    return api_token
