"""``ecowatch tokens``: add (printed once), list, revoke; expiry; hashed storage; a store from before tokens migrates."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from cli.main import cli
from layers import open_store
from layers.api_tokens import add_token, token_account
from layers.errors import AccountError, SchemaError


def _run(store: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--store", str(store)], env={"ECOWATCH_DATA_DIR": str(store.parent)}, catch_exceptions=False)


def test_add_prints_the_token_once_and_stores_only_its_hash(tmp_path: Path) -> None:
    store = tmp_path / "t.gpkg"
    added = _run(store, "tokens", "add", "partner-vn", "--role", "ngo", "--expires", "30")
    assert added.exit_code == 0, added.output
    token = added.stdout.strip().splitlines()[-1]
    assert token.startswith("ecw_") and len(token) == 4 + 12 + 1 + 43
    raw = store.read_bytes()
    assert token.encode() not in raw and token.split("_", 2)[2].encode() not in raw
    with open_store(store) as st:
        found = token_account(st, token)
        assert found is not None and (found.name, found.role) == ("partner-vn", "ngo")
        assert dt.timedelta(days=29) < found.expires - dt.datetime.now(dt.UTC) <= dt.timedelta(days=30)
        assert token_account(st, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
        assert token_account(st, "ecw_000000000000_" + token.split("_", 2)[2]) is None
        assert token_account(st, "") is None and token_account(st, "Bearer " + token) is None
    listed = _run(store, "tokens", "list")
    assert listed.exit_code == 0 and token not in listed.output
    assert listed.output.split()[:4] == ["partner-vn", token.split("_", 2)[1], "ngo", "active"]


def test_revoke_and_expiry_end_a_token(tmp_path: Path) -> None:
    store = tmp_path / "t.gpkg"
    token = _run(store, "tokens", "add", "qgis", "--role", "planner").stdout.strip().splitlines()[-1]
    revoked = _run(store, "tokens", "revoke", "qgis")
    assert revoked.exit_code == 0 and "qgis revoked" in revoked.output
    with open_store(store) as st:
        assert token_account(st, token) is None
        short = add_token(st, "short", "viewer", expires_days=1)
        assert token_account(st, short) is not None
        st.upsert("api_tokens", pd.DataFrame([{"name": "short", "expires": pd.Timestamp("2020-01-01", tz="UTC")}]))
        assert token_account(st, short) is None
    listed = _run(store, "tokens", "list").output
    assert "qgis" in listed and "revoked" in listed and "expired" in listed
    again = _run(store, "tokens", "revoke", "qgis")
    assert again.exit_code == 1 and "already revoked" in again.output
    unknown = _run(store, "tokens", "revoke", "nobody")
    assert unknown.exit_code == 1 and "no token 'nobody'" in unknown.output


def test_bad_input_is_refused_with_the_reason(tmp_path: Path) -> None:
    store = tmp_path / "t.gpkg"
    assert _run(store, "tokens", "add", "x", "--role", "root").exit_code == 2
    assert _run(store, "tokens", "add", "x", "--role", "ngo", "--expires", "0").exit_code == 2
    bad_name = _run(store, "tokens", "add", "../x", "--role", "ngo")
    assert bad_name.exit_code == 1 and "token name" in bad_name.output
    assert _run(store, "tokens", "add", "x", "--role", "ngo").exit_code == 0
    twice = _run(store, "tokens", "add", "x", "--role", "ngo")
    assert twice.exit_code == 1 and "exists" in twice.output
    with open_store(store) as st, pytest.raises(AccountError, match="1 to 3650 days"):
        add_token(st, "y", "ngo", expires_days=5000)


def test_a_store_made_before_tokens_is_migrated(tmp_path: Path) -> None:
    store = tmp_path / "old.gpkg"
    open_store(store).close()
    conn = sqlite3.connect(store, isolation_level=None)
    try:
        conn.execute("DROP TABLE api_tokens")  # with its index
        conn.execute("DELETE FROM gpkg_contents WHERE table_name = 'api_tokens'")
    finally:
        conn.close()
    with pytest.raises(SchemaError, match="ecowatch store migrate"):
        open_store(store, readonly=True)
    migrated = _run(store, "store", "migrate")
    assert migrated.exit_code == 0 and "api_tokens" in migrated.output
    assert _run(store, "tokens", "add", "x", "--role", "ngo").exit_code == 0
