"""``Authorization: Bearer`` API tokens on the API: the token's role, 401 for bad ones, no effect on sessions or CSRF."""

from __future__ import annotations

from pathlib import Path

import orjson
import pandas as pd
from flask import Flask

from layers import open_store
from layers.api_tokens import add_token, revoke_token

from .conftest import PASSWORDS, csrf_token, log_in


def _token(store: Path, name: str, role: str) -> str:
    with open_store(store) as st:
        return add_token(st, name, role)


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_token_reads_as_its_role(app: Flask, map_store: Path) -> None:
    viewer, planner = _token(map_store, "v", "viewer"), _token(map_store, "p", "planner")
    client = app.test_client()
    as_viewer = orjson.loads(client.get("/api/layers", headers=_auth(viewer)).data)
    as_planner = orjson.loads(client.get("/api/layers", headers=_auth(planner)).data)
    assert "seizures" not in {lyr["name"] for lyr in as_viewer["layers"]}
    assert "seizures" in {lyr["name"] for lyr in as_planner["layers"]}
    assert client.get("/api/layers/seizures/features?bbox=100,10,110,20", headers=_auth(viewer)).status_code == 404
    response = client.get("/api/layers", headers=_auth(planner))
    assert "Set-Cookie" not in response.headers  # no session is made for a token
    with open_store(map_store) as st:
        assert st.read("api_tokens", where={"name": "p"})["last_used"].notna().all()


def test_bad_expired_or_revoked_tokens_get_401_with_a_bearer_challenge(app: Flask, map_store: Path) -> None:
    token = _token(map_store, "n", "ngo")
    client = app.test_client()
    assert client.get("/api/layers", headers=_auth(token)).status_code == 200
    for bad in ("", "nonsense", token[:-2] + "xx", "ecw_" + "0" * 12 + "_" + "a" * 43):
        response = client.get("/api/layers", headers=_auth(bad))
        assert response.status_code == 401, bad
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
        assert orjson.loads(response.data)["error"] == "invalid_token"
    with open_store(map_store) as st:
        revoke_token(st, "n")
    assert client.get("/api/layers", headers=_auth(token)).status_code == 401
    expiring = _token(map_store, "e", "ngo")
    with open_store(map_store) as st:
        st.upsert("api_tokens", pd.DataFrame([{"name": "e", "expires": pd.Timestamp("2021-01-01", tz="UTC")}]))
    assert client.get("/api/layers", headers=_auth(expiring)).status_code == 401
    anonymous = client.get("/api/layers")
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"].startswith("Bearer realm=")


def test_a_bad_token_is_not_read_as_the_session_user(app: Flask) -> None:
    client = app.test_client()
    assert log_in(client, "planner", PASSWORDS["planner"]).status_code == 303
    assert client.get("/api/layers").status_code == 200
    assert client.get("/api/layers", headers=_auth("ecw_" + "1" * 12 + "_" + "b" * 43)).status_code == 401


def test_a_token_reads_only_and_never_replaces_csrf(app: Flask, map_store: Path) -> None:
    admin = _token(map_store, "a", "admin")
    client = app.test_client()
    # a token cannot change anything: the review desk's POSTs and logout need a session and its CSRF token
    post = client.post("/review/bulk", data={"clearing": "CL-0001:0", "decision": "field_check"}, headers=_auth(admin))
    assert post.status_code in (400, 401)
    assert client.post("/api/layers", headers=_auth(admin)).status_code in (400, 401, 405)
    # and a logged-in session's POST still needs its CSRF token when a bearer header is added
    assert log_in(client, "analyst", PASSWORDS["analyst"]).status_code == 303
    page = client.get("/review/").get_data(as_text=True)
    refused = client.post("/review/bulk", data={"clearing": "CL-0001:0", "decision": "field_check"}, headers=_auth(admin))
    assert refused.status_code == 400  # the CSRF check runs first, token or not
    assert client.post("/review/bulk", data={"clearing": "CL-0001:0", "decision": "field_check", "csrf_token": csrf_token(page)},
                       headers=_auth(admin)).status_code == 401
    # pages are for people: a token is not accepted there
    assert client.get("/review/", headers=_auth(admin)).status_code == 401

