"""``ecowatch users``: add, list, disable, enable, set-role through the real command line."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result
from pydantic import SecretStr

from cli.main import cli
from layers import open_store
from layers.accounts import HashParams, authenticate, session_account, start_session

CHEAP_ENV = {"ECOWATCH_PASSWORD_HASH_TIME_COST": "1", "ECOWATCH_PASSWORD_HASH_MEMORY_KIB": "1024", "ECOWATCH_PASSWORD_HASH_PARALLELISM": "1"}
CHEAP = HashParams(1, 1024, 1)


def _run(store: Path, *args: str, input: str | None = None) -> Result:
    env = {**CHEAP_ENV, "ECOWATCH_DATA_DIR": str(store.parent)}
    return CliRunner().invoke(cli, [*args, "--store", str(store)], env=env, input=input, catch_exceptions=False)


def test_add_from_a_password_file_then_list(tmp_path: Path) -> None:
    store = tmp_path / "u.gpkg"
    secret = tmp_path / "pw.txt"
    secret.write_text("a-long-enough-password\nignored second line\n", encoding="utf-8")
    result = _run(store, "users", "add", "ana", "--role", "analyst", "--email", "ana@example.org", "--password-file", str(secret))
    assert result.exit_code == 0 and "added ana (analyst)" in result.output
    assert "a-long-enough-password" not in result.output
    listed = _run(store, "users", "list")
    assert listed.exit_code == 0
    assert listed.output.split() == ["ana", "analyst", "active", "last", "login", "never", "ana@example.org"]
    with open_store(store) as st:
        assert authenticate(st, "ana", "a-long-enough-password", CHEAP) is not None


def test_add_prompts_twice_without_echo(tmp_path: Path) -> None:
    store = tmp_path / "u.gpkg"
    result = _run(store, "users", "add", "bob", "--role", "viewer", input="bobs-long-password\nbobs-long-password\n")
    assert result.exit_code == 0 and "bobs-long-password" not in result.output
    mismatch = _run(store, "users", "add", "eve", "--role", "viewer", input="one-long-password\ntwo-long-password\none-long-password\none-long-password\n")
    assert mismatch.exit_code == 0 and "do not match" in mismatch.output


def test_bad_input_fails_with_the_reason(tmp_path: Path) -> None:
    store = tmp_path / "u.gpkg"
    short = _run(store, "users", "add", "ana", "--role", "analyst", input="short\nshort\n")
    assert short.exit_code == 1 and "at least 12 characters" in short.output
    role = _run(store, "users", "add", "ana", "--role", "root", input="x\n")
    assert role.exit_code == 2 and "'root' is not one of" in role.output
    missing = _run(store, "users", "disable", "nobody")
    assert missing.exit_code == 1 and "no user 'nobody'" in missing.output
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    assert "is empty" in _run(store, "users", "add", "ana", "--role", "analyst", "--password-file", str(empty)).output


def test_disable_enable_set_role(tmp_path: Path) -> None:
    store = tmp_path / "u.gpkg"
    _run(store, "users", "add", "ana", "--role", "analyst", input="a-long-enough-password\na-long-enough-password\n")
    with open_store(store) as st:
        token = start_session(st, "ana", hours=1)
    assert _run(store, "users", "disable", "ana").exit_code == 0
    assert "disabled" in _run(store, "users", "list").output
    with open_store(store) as st:
        assert session_account(st, token) is None
    assert _run(store, "users", "enable", "ana").exit_code == 0
    result = _run(store, "users", "set-role", "ana", "ngo")
    assert result.exit_code == 0 and "ana is now ngo" in result.output
    assert _run(store, "users", "list").output.split()[:3] == ["ana", "ngo", "active"]


def test_list_of_an_empty_store_says_how_to_start(tmp_path: Path) -> None:
    assert "ecowatch users add NAME --role admin" in _run(tmp_path / "u.gpkg", "users", "list").output


def test_export_of_an_internal_table_is_refused_and_exports_are_logged(tmp_path: Path) -> None:
    store = tmp_path / "u.gpkg"
    _run(store, "users", "add", "ana", "--role", "analyst", input="a-long-enough-password\na-long-enough-password\n")
    refused = _run(store, "export", "users", "--role", "admin", "-o", str(tmp_path / "users.geojson"))
    assert refused.exit_code == 1 and "may not read layer 'users'" in refused.output
    assert not (tmp_path / "users.geojson").exists()
    done = _run(store, "export", "countries", "--role", "viewer", "-o", str(tmp_path / "c.geojson"))
    assert done.exit_code == 0
    with open_store(store) as st:
        (event,) = st.read("access_log", where={"event": "export"}).to_dict("records")
    assert event["path"] == "export countries" and event["role"] == "viewer" and event["method"] == "cli"
    assert "0 feature(s) as geojson" in event["detail"]


def test_demo_accounts_one_per_role_passwords_shown_once(tmp_path: Path) -> None:
    from cli.demo import demo_accounts
    from config import load_settings
    from layers.redaction import ROLES

    settings = load_settings({}, data_dir=tmp_path, password_hash_time_cost=1, password_hash_memory_kib=1024, password_hash_parallelism=1)
    store = tmp_path / "d.gpkg"
    text = demo_accounts(settings, str(store))
    assert "http://127.0.0.1:8765/login" in text
    rows = {line.split()[0]: line.split() for line in text.splitlines() if line.startswith("  demo-")}
    assert set(rows) == {f"demo-{r}" for r in ROLES}
    passwords = {name: parts[2] for name, parts in rows.items()}
    assert len(set(passwords.values())) == len(ROLES) and all(len(p) >= 16 for p in passwords.values())
    with open_store(store) as st:
        for name, password in passwords.items():
            account = authenticate(st, name, password, CHEAP)
            assert account is not None and account.role == rows[name][1]
    again = demo_accounts(settings, str(store))  # a second demo run: new passwords, the old ones stop working
    with open_store(store) as st:
        assert authenticate(st, "demo-admin", passwords["demo-admin"], CHEAP) is None
        assert len(st.read("users")) == len(ROLES)
    assert passwords["demo-admin"] not in again
    fixed = settings.model_copy(update={"demo_password": SecretStr("one-demo-password")})
    fixed_text = demo_accounts(fixed, str(store))
    assert "one-demo-password" not in fixed_text and fixed_text.count("(ECOWATCH_DEMO_PASSWORD)") == len(ROLES)
    with open_store(store) as st:
        assert authenticate(st, "demo-viewer", "one-demo-password", CHEAP) is not None
