"""Accounts in the store: names, roles, Argon2id hashes, authentication, sessions."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from layers import Store, open_store
from layers.accounts import (
    HashParams,
    add_account,
    authenticate,
    end_session,
    get_account,
    list_accounts,
    session_account,
    set_disabled,
    set_role,
    start_session,
)
from layers.errors import AccountError
from layers.redaction import ROLES

CHEAP = HashParams(1, 1024, 1)
PASSWORD = "a-long-enough-password"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    st = open_store(tmp_path / "a.gpkg")
    yield st
    st.close()


def _add(store: Store, name: str = "ana", role: str = "analyst", password: str = PASSWORD, **kw: object) -> object:
    return add_account(store, name, role, password, params=CHEAP, min_length=12, **kw)  # type: ignore[arg-type]


def test_the_hash_is_argon2id_with_a_salt_and_never_the_password(store: Store) -> None:
    _add(store)
    _add(store, "bob", "planner")
    hashes = store.read("users", columns=["username", "password_hash"]).set_index("username")["password_hash"]
    assert all(h.startswith("$argon2id$v=19$m=1024,t=1,p=1$") for h in hashes)
    assert hashes["ana"] != hashes["bob"] and PASSWORD not in hashes["ana"]  # same password, other salt


def test_authenticate(store: Store) -> None:
    _add(store, email="ana@example.org")
    account = authenticate(store, "ana", PASSWORD, CHEAP)
    assert account is not None and account.role == "analyst" and account.email == "ana@example.org"
    assert account.last_login is not None
    assert authenticate(store, "ana", PASSWORD + "x", CHEAP) is None
    assert authenticate(store, "Ana", PASSWORD, CHEAP) is None  # names are exact
    assert authenticate(store, "nobody", PASSWORD, CHEAP) is None
    assert authenticate(store, "'; DROP TABLE users; --", PASSWORD, CHEAP) is None
    assert authenticate(store, "ana", "x" * 5000, CHEAP) is None


def test_a_stronger_setting_rehashes_at_the_next_login(store: Store) -> None:
    _add(store)
    stronger = HashParams(2, 2048, 1)
    assert authenticate(store, "ana", PASSWORD, stronger) is not None
    (stored,) = store.read("users", columns=["password_hash"])["password_hash"]
    assert stored.startswith("$argon2id$v=19$m=2048,t=2,p=1$")
    assert authenticate(store, "ana", PASSWORD, CHEAP) is not None  # the parameters travel with the hash


@pytest.mark.parametrize(
    ("name", "role", "password", "message"),
    [
        ("", "analyst", PASSWORD, "user name"),
        ("-x", "analyst", PASSWORD, "user name"),
        ("a b", "analyst", PASSWORD, "user name"),
        ("x" * 65, "analyst", PASSWORD, "user name"),
        ("ana", "superuser", PASSWORD, "unknown role"),
        ("ana", "analyst", "short", "at least 12"),
        ("ana", "analyst", "x" * 1025, "at most 1024"),
        ("anastasia-long", "analyst", "ANASTASIA-LONG", "must not be the user name"),
    ],
)
def test_bad_accounts_are_refused(store: Store, name: str, role: str, password: str, message: str) -> None:
    with pytest.raises(AccountError, match=message):
        _add(store, name, role, password)
    assert list_accounts(store) == []


def test_a_name_is_added_once(store: Store) -> None:
    _add(store)
    with pytest.raises(AccountError, match="exists"):
        _add(store, role="viewer")
    assert get_account(store, "ana").role == "analyst"  # type: ignore[union-attr]


def test_bad_email(store: Store) -> None:
    with pytest.raises(AccountError, match="not an address"):
        _add(store, email="not an address")


def test_every_role_can_be_given(store: Store) -> None:
    for role in ROLES:
        _add(store, f"user-{role}", role)
    assert [(a.username, a.role) for a in list_accounts(store)] == sorted((f"user-{r}", r) for r in ROLES)


def test_disable_enable_and_set_role(store: Store) -> None:
    _add(store)
    token = start_session(store, "ana", hours=1)
    assert session_account(store, token).role == "analyst"  # type: ignore[union-attr]
    set_role(store, "ana", "ngo")
    assert get_account(store, "ana").role == "ngo"  # type: ignore[union-attr]
    assert session_account(store, token) is None  # a role change ends open sessions
    token = start_session(store, "ana", hours=1)
    set_disabled(store, "ana")
    assert session_account(store, token) is None and authenticate(store, "ana", PASSWORD, CHEAP) is None
    set_disabled(store, "ana", False)
    assert authenticate(store, "ana", PASSWORD, CHEAP) is not None
    with pytest.raises(AccountError, match="no user 'bob'"):
        set_role(store, "bob", "viewer")
    with pytest.raises(AccountError, match="unknown role"):
        set_role(store, "ana", "root")


def test_sessions_are_stored_as_hashes_and_expire(store: Store) -> None:
    _add(store)
    token = start_session(store, "ana", hours=1, address="192.0.2.1")
    rows = store.read("sessions")
    assert len(rows) == 1 and token not in rows.to_string() and len(rows.iloc[0]["session_hash"]) == 64
    assert session_account(store, token) is not None and session_account(store, token + "x") is None
    assert session_account(store, "") is None and session_account(store, "x" * 500) is None
    store.upsert("sessions", pd.DataFrame([{"session_hash": rows.iloc[0]["session_hash"], "expires": pd.Timestamp("2020-01-01", tz="UTC")}]))
    assert session_account(store, token) is None  # expired
    start_session(store, "ana", hours=1)  # the next login prunes the expired one
    assert len(store.read("sessions")) == 1
    other = start_session(store, "ana", hours=1)
    end_session(store, other)
    assert session_account(store, other) is None and len(store.read("sessions")) == 1


def test_replace_resets_password_and_ends_sessions(store: Store) -> None:
    _add(store)
    token = start_session(store, "ana", hours=1)
    _add(store, role="planner", password="another-long-password", replace=True)
    assert session_account(store, token) is None
    assert authenticate(store, "ana", PASSWORD, CHEAP) is None
    assert authenticate(store, "ana", "another-long-password", CHEAP).role == "planner"  # type: ignore[union-attr]
