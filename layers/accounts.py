"""User accounts and login sessions in the store: create, hash, verify, disable, change role.

Framework-neutral (no Flask): ``ecowatch users`` and the web app's login both call these
functions. Passwords are hashed with Argon2id (:mod:`argon2`, PHC strings that carry their own
parameters, so a hash made with older parameters still verifies and is re-hashed at the next
login). A session is a random token held only by the browser; the store keeps its SHA-256, the
account and the expiry, so logging out, disabling an account or a new login ends it on the
server, not only in the browser.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from typing import Any

import pandas as pd
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from layers.errors import AccountError
from layers.redaction import ROLES, Role
from layers.state_cache import StateCache
from layers.store import Store

logger = logging.getLogger(__name__)

USERNAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
MAX_PASSWORD_CHARS = 1024  # hashing is deliberately slow: no megabyte passwords
SESSION_TOKEN_BYTES = 32


@dataclass(frozen=True)
class HashParams:
    """Argon2id cost: passes over memory, memory in KiB, lanes (RFC 9106's second choice by default)."""

    time_cost: int = 3
    memory_kib: int = 65536
    parallelism: int = 4

    def hasher(self) -> PasswordHasher:
        return PasswordHasher(time_cost=self.time_cost, memory_cost=self.memory_kib, parallelism=self.parallelism)


@dataclass(frozen=True)
class Account:
    """An account as the rest of ecowatch sees it (never with its password hash)."""

    username: str
    role: Role
    email: str | None
    disabled: bool
    created: dt.datetime | None
    last_login: dt.datetime | None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def check_username(username: str) -> str:
    """``username`` if it is 1-64 letters, digits or ``. _ @ -`` (starting with a letter or digit)."""
    if not USERNAME_PATTERN.fullmatch(username or ""):
        raise AccountError(f"user name {username[:80]!r}: use 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit")
    return username


def check_role_name(role: str) -> Role:
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    return role  # type: ignore[return-value]


def check_password(username: str, password: str, min_length: int) -> str:
    """``password`` if it is long enough, not too long, and not the user name."""
    if len(password) < min_length:
        raise AccountError(f"password for {username!r}: at least {min_length} characters (setting password_min_length)")
    if len(password) > MAX_PASSWORD_CHARS:
        raise AccountError(f"password for {username!r}: at most {MAX_PASSWORD_CHARS} characters")
    if password.strip().lower() == username.lower():
        raise AccountError(f"password for {username!r}: must not be the user name")
    return password


def hash_password(password: str, params: HashParams) -> str:
    """The Argon2id PHC string of ``password`` (a fresh random salt each time)."""
    return params.hasher().hash(password)


def _rows(store: Store, username: str | None = None) -> pd.DataFrame:
    return store.read("users", where={"username": username} if username is not None else None)


def _account(row: Any) -> Account:
    def when(value: Any) -> dt.datetime | None:
        return None if pd.isna(value) else pd.Timestamp(value).tz_localize("UTC").to_pydatetime()

    return Account(
        username=str(row["username"]),
        role=check_role_name(str(row["role"])),
        email=None if pd.isna(row["email"]) else str(row["email"]),
        disabled=bool(row["disabled"]) if not pd.isna(row["disabled"]) else False,
        created=when(row["created"]),
        last_login=when(row["last_login"]),
    )


def get_account(store: Store, username: str) -> Account | None:
    """The account called ``username``, or ``None``."""
    rows = _rows(store, username)
    return _account(rows.iloc[0]) if len(rows) else None


def list_accounts(store: Store) -> list[Account]:
    """Every account, by user name."""
    rows = _rows(store)
    return sorted((_account(r) for _, r in rows.iterrows()), key=lambda a: a.username)


def _require(store: Store, username: str) -> Account:
    account = get_account(store, username)
    if account is None:
        raise AccountError(f"no user {username!r}; `ecowatch users list` shows them")
    return account


def _write(store: Store, **values: Any) -> None:
    store.upsert("users", pd.DataFrame([values]))


def add_account(
    store: Store, username: str, role: str, password: str, *, params: HashParams, min_length: int, email: str | None = None, replace: bool = False
) -> Account:
    """Create an account (``replace``: or reset an existing one's role, password and state).

    Raises
    ------
    AccountError
        For a bad user name, role or password, or (without ``replace``) an existing name.
    """
    check_username(username)
    who = check_role_name(role)
    check_password(username, password, min_length)
    if email is not None and (len(email) > 254 or "@" not in email or any(c.isspace() for c in email)):
        raise AccountError(f"e-mail {email[:80]!r} of {username!r} is not an address")
    now = _now()
    with store.transaction():
        existing = get_account(store, username)
        if existing is not None and not replace:
            raise AccountError(f"user {username!r} exists; `ecowatch users set-role` changes its role")
        _write(
            store, username=username, email=email, role=who, password_hash=hash_password(password, params),
            disabled=False, created=existing.created if existing and existing.created else now, updated=now,
            last_login=existing.last_login if existing else None,
        )
        if existing is not None:
            end_sessions(store, username)
    logger.info("account %s (%s) %s", username, who, "reset" if existing else "added")
    return _require(store, username)


def set_role(store: Store, username: str, role: str) -> Account:
    """Change an account's role; its open sessions end (the next request logs in again)."""
    who = check_role_name(role)
    with store.transaction():
        _require(store, username)
        _write(store, username=username, role=who, updated=_now())
        end_sessions(store, username)
    logger.info("account %s: role set to %s", username, who)
    return _require(store, username)


def set_disabled(store: Store, username: str, disabled: bool = True) -> Account:
    """Disable (or enable) an account; disabling ends its open sessions at once."""
    with store.transaction():
        _require(store, username)
        _write(store, username=username, disabled=disabled, updated=_now())
        if disabled:
            end_sessions(store, username)
    logger.info("account %s %s", username, "disabled" if disabled else "enabled")
    return _require(store, username)


_DUMMY_HASHES: dict[HashParams, str] = {}
_SESSIONS = StateCache(256)  # session rows and their accounts, per store state (session_account)


def authenticate(store: Store, username: str, password: str, params: HashParams, *, record: bool = True) -> Account | None:
    """The account when ``password`` is its password and it is enabled, else ``None``.

    An unknown or disabled account costs the same hashing time as a wrong password, so the
    answer time does not tell which names exist. With ``record`` (a writable store), the login
    time is kept and a hash made with other parameters than ``params`` is replaced by a new one.
    """
    hasher = params.hasher()
    rows = _rows(store, username) if USERNAME_PATTERN.fullmatch(username or "") else _rows(store).iloc[0:0]
    if len(password) > MAX_PASSWORD_CHARS:
        return None
    if not len(rows):
        if params not in _DUMMY_HASHES:
            _DUMMY_HASHES[params] = hasher.hash(secrets.token_hex(16))
        with contextlib.suppress(VerificationError):
            hasher.verify(_DUMMY_HASHES[params], password)
        return None
    row = rows.iloc[0]
    stored = str(row["password_hash"])
    try:
        hasher.verify(stored, password)
    except VerifyMismatchError:
        return None
    except (InvalidHashError, VerificationError) as err:
        logger.error("account %s: stored password hash cannot be checked (%s)", username, type(err).__name__)
        return None
    if not pd.isna(row["disabled"]) and bool(row["disabled"]):
        return None
    if not record:
        return _account(row)
    values: dict[str, Any] = {"username": username, "last_login": _now()}
    if hasher.check_needs_rehash(stored):
        values["password_hash"] = hasher.hash(password)
    _write(store, **values)
    return _require(store, username)


# -- sessions ---------------------------------------------------------------------------------
def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start_session(store: Store, username: str, *, hours: float, address: str | None = None) -> str:
    """A new session for ``username``: returns the token (give it to the browser; it is not stored)."""
    token = secrets.token_urlsafe(SESSION_TOKEN_BYTES)
    now = _now()
    mine = store.read("sessions", where={"username": username}, columns=["session_hash", "expires"])
    expired = mine.loc[mine["expires"].isna() | (mine["expires"] <= now.replace(tzinfo=None)), "session_hash"].tolist()
    if expired:  # a user's old sessions are pruned when they log in again
        store.delete("sessions", where={"session_hash": expired})
    frame = pd.DataFrame([{
        "session_hash": _token_hash(token), "username": username, "created": now,
        "expires": now + dt.timedelta(hours=hours), "address": address,
    }])
    store.upsert("sessions", frame)
    return token


def _session_row(store: Store, token: str, accounts: Store) -> tuple[pd.Timestamp | None, Account | None]:
    """(expiry, account) of session ``token``; (None, None) when there is none."""
    rows = store.read("sessions", where={"session_hash": _token_hash(token)})
    if not len(rows):
        return None, None
    row = rows.iloc[0]
    expires = None if pd.isna(row["expires"]) else pd.Timestamp(row["expires"]).tz_localize("UTC")
    return expires, get_account(accounts, str(row["username"]))


def session_account(store: Store, token: str, *, accounts: Store | None = None) -> Account | None:
    """The enabled account whose unexpired session ``token`` is, else ``None``.

    ``accounts``: where the accounts are, when the sessions are kept in another store. The
    session's row and account are kept per state of both stores (:mod:`layers.state_cache`: a
    logout, a new session or a disabled account is a commit, which starts afresh); the expiry is
    judged on every call.
    """
    if not token or len(token) > 128:
        return None
    held = accounts or store
    held_state = getattr(held, "state_token", None)
    if held_state is None:
        expires, account = _session_row(store, token, held)
    else:
        key = ("session", _token_hash(token), held_state())
        expires, account = _SESSIONS.get(store, key, lambda: _session_row(store, token, held), rows=lambda _: 1)
    if expires is None or expires <= pd.Timestamp(_now()):
        return None
    if account is None or account.disabled:
        return None
    return account


def end_session(store: Store, token: str) -> None:
    """Forget one session (logout)."""
    store.delete("sessions", where={"session_hash": _token_hash(token)})


def end_sessions(store: Store, username: str) -> int:
    """Forget every session of ``username``; returns how many there were."""
    return store.delete("sessions", where={"username": username})
