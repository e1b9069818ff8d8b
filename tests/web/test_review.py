"""The review desk's routes: roles, CSRF, the queue's order and filters, decisions and conflicts, files."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from defusedxml import ElementTree as SafeET
from flask import Flask
from flask.testing import FlaskClient

from layers import open_store
from layers.access_log import read_events
from layers.accounts import HashParams, add_account
from layers.reviews import trail
from tests.layers.review_fixtures import clearing_rows, write_clearings

from .conftest import log_in

DESK_GETS = ["/review/", "/review/clearings/CL-0001", "/review/sample", "/review/accuracy", "/review/field-check.gpx",
             "/review/field-check.kml", "/review/step?current=CL-0001&pos=0"]


SECOND_ANALYST = ("bo", "bo-correct-horse-battery")


def token(client: FlaskClient) -> str:
    html = client.get("/review/").get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


@pytest.fixture(autouse=True)
def all_new(map_store: Path) -> None:
    """Every clearing of the map store not yet reviewed (the map tests confirm one for the viewer)."""
    with open_store(map_store) as store:
        store.upsert("clearings", pd.DataFrame({"clearing_id": ["CL-0001", "CL-0002", "CL-0099"], "review_status": "new"}))


@pytest.fixture
def analyst(client_as: Callable[[str], FlaskClient]) -> FlaskClient:
    """A client logged in as the analyst (user name "analyst")."""
    return client_as("analyst")


@pytest.fixture
def second_analyst(app: Flask, map_store: Path) -> FlaskClient:
    """Another analyst, "bo", logged in."""
    with open_store(map_store) as store:
        add_account(store, SECOND_ANALYST[0], "analyst", SECOND_ANALYST[1], params=HashParams(1, 1024, 1), min_length=12)
    client = app.test_client()
    assert log_in(client, *SECOND_ANALYST).status_code == 303
    return client


def _decide(client: FlaskClient, cid: str, version: int, decision: str = "confirm", **extra: str) -> Any:
    data = {"decision": decision, "version": str(version), "csrf_token": token(client), **extra}
    return client.post(f"/review/clearings/{cid}/decision", data=data)


@pytest.mark.parametrize("path", DESK_GETS)
def test_anonymous_is_sent_to_log_in(anonymous: FlaskClient, path: str) -> None:
    response = anonymous.get(path)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("role", ["ngo", "viewer"])
def test_ngo_and_viewer_are_refused(client_as: Callable[[str], FlaskClient], role: str) -> None:
    client = client_as(role)
    for path in DESK_GETS:
        response = client.get(path)
        assert response.status_code == 403 and b"CASE-" not in response.data and b"CL-0002" not in response.data, path


def test_planner_sees_but_cannot_decide(client: FlaskClient) -> None:
    html = client.get("/review/").get_data(as_text=True)
    assert "CL-0002" in html and 'name="clearing"' not in html
    page = client.get("/review/clearings/CL-0002").get_data(as_text=True)
    assert 'id="ew-decide"' not in page
    token_ = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token_ is not None
    refused = client.post("/review/clearings/CL-0002/decision", data={"decision": "confirm", "version": "0", "csrf_token": token_.group(1)})
    assert refused.status_code == 403


def test_queue_order_filters_and_csp(analyst: FlaskClient) -> None:
    response = analyst.get("/review/")
    html = response.get_data(as_text=True)
    ids = re.findall(r'<tr data-clearing="([^"]+)"', html)
    assert ids == ["CL-0002", "CL-0001", "CL-0099"]  # risk 90, 35, none
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) and " style=" not in html
    low = analyst.get("/review/?confidence=low").get_data(as_text=True)
    assert re.findall(r'<tr data-clearing="([^"]+)"', low) == ["CL-0002"]
    assert "pos=0" in low and "confidence=low" in low  # links keep the filters
    bad = analyst.get("/review/?risk=200")
    assert bad.status_code == 400 and "0 to 100" in bad.get_data(as_text=True)
    assert analyst.get("/review/?page=0").status_code == 400


def test_paging_is_stable(analyst: FlaskClient, map_store: Path) -> None:
    with open_store(map_store) as store:
        write_clearings(store, clearing_rows(120))
    seen: list[str] = []
    for page in (1, 2, 3):
        html = analyst.get(f"/review/?page={page}&aoi=demo").get_data(as_text=True)
        seen += re.findall(r'<tr data-clearing="([^"]+)"', html)
    assert len(seen) == len(set(seen)) == 123  # 120 + the 3 of the map store


def test_clearing_page_escapes_and_shows(analyst: FlaskClient, map_store: Path, facts: Any) -> None:
    with open_store(map_store) as store:
        store.upsert("links", pd.DataFrame([{"clearing_id": "CL-0001", "seizure_id": "S-2", "distance_km": 4.2, "lag_days": 30,
                                              "score": 0.7, "reasons": ["near"]}]))
    html = analyst.get("/review/clearings/CL-0001").get_data(as_text=True)
    assert facts.hostile not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html  # the linked seizure's case reference, escaped
    assert "Inside concession EL-1." in html and "Mekong Agro Co." not in html  # only the concession it touches
    assert "4.2" in html and "before_true_colour" in html
    assert analyst.get("/review/clearings/CL-nope").status_code == 404


def test_decision_csrf_conflict_and_trail(analyst: FlaskClient, second_analyst: FlaskClient, map_store: Path) -> None:
    no_token = analyst.post("/review/clearings/CL-0002/decision", data={"decision": "confirm", "version": "0"})
    assert no_token.status_code == 400 and "CSRF" in no_token.get_data(as_text=True)
    first = _decide(analyst, "CL-0002", 0)
    assert first.status_code == 303
    second = _decide(second_analyst, "CL-0002", 0, "dismiss", reason="water")
    assert second.status_code == 409
    page = second.get_data(as_text=True)
    assert "Another decision came first" in page and "analyst recorded <strong>confirm</strong>" in page
    with open_store(map_store) as store:
        rows = trail(store, "CL-0002")
        assert list(rows["user"]) == ["analyst", "bo"] and list(rows["outcome"]) == ["applied", "conflict"]
        assert store.read("clearings", where={"clearing_id": "CL-0002"})["review_status"].iloc[0] == "confirmed"
    html = analyst.get("/review/clearings/CL-0002").get_data(as_text=True)
    assert html.count('<tr data-outcome="') == 2


def test_decision_as_json(analyst: FlaskClient) -> None:
    headers = {"Accept": "application/json"}
    data = {"decision": "dismiss", "reason": "cloud_shadow", "version": "0", "csrf_token": token(analyst)}
    ok = analyst.post("/review/clearings/CL-0001/decision", data=data, headers=headers)
    assert ok.status_code == 200 and ok.get_json() == {"clearing_id": "CL-0001", "review_status": "dismissed", "version": 1, "decision": "dismiss"}
    again = analyst.post("/review/clearings/CL-0001/decision", data=data, headers=headers)
    assert again.status_code == 409 and again.get_json()["latest"]["user"] == "analyst"
    bad = analyst.post("/review/clearings/CL-0001/decision", data={**data, "reason": "", "version": "1"}, headers=headers)
    assert bad.status_code == 400 and "reason" in bad.get_json()["message"]


def test_get_changes_nothing_and_next_is_local(analyst: FlaskClient) -> None:
    assert analyst.get("/review/clearings/CL-0001/decision").status_code == 405
    response = _decide(analyst, "CL-0001", 0, next="https://evil.example/")
    assert response.status_code == 303 and response.headers["Location"].endswith("/review/clearings/CL-0001")


def test_bulk(analyst: FlaskClient, map_store: Path) -> None:
    data = {"clearing": ["CL-0001:0", "CL-0002:0"], "decision": "field_check", "csrf_token": token(analyst)}
    response = analyst.post("/review/bulk", data=data)
    assert response.status_code == 200 and "Recorded for 2 clearing(s)" in response.get_data(as_text=True)
    again = analyst.post("/review/bulk", data=data)
    assert again.status_code == 409
    gpx = analyst.get("/review/field-check.gpx")
    root = SafeET.fromstring(gpx.data)
    names = sorted(w.find("{http://www.topografix.com/GPX/1/1}name").text for w in root.findall("{http://www.topografix.com/GPX/1/1}wpt"))
    assert names == ["CL-0001", "CL-0002"] and "attachment" in gpx.headers["Content-Disposition"]
    kml = SafeET.fromstring(analyst.get("/review/field-check.kml").data)
    assert len(kml.findall(".//{http://www.opengis.net/kml/2.2}Polygon")) == 2
    with open_store(map_store) as store:
        exports = read_events(store, "export")
    assert list(exports["username"]) == ["analyst", "analyst"] and "2 clearing(s)" in exports["detail"].iloc[0]


def test_step_finds_neighbours_after_a_decision(analyst: FlaskClient) -> None:
    nxt = analyst.get("/review/step?current=CL-0002&pos=0&step=1")
    assert nxt.status_code == 303 and "/review/clearings/CL-0001?pos=1" in nxt.headers["Location"]
    _decide(analyst, "CL-0002", 0)  # leaves the "new" queue
    nxt = analyst.get("/review/step?current=CL-0002&pos=0&step=1")
    assert "/review/clearings/CL-0001?pos=0" in nxt.headers["Location"]
    end = analyst.get("/review/step?current=CL-0099&pos=1&step=1")
    assert end.headers["Location"].endswith("/review/")


def test_merged_clearing_shows_its_target(analyst: FlaskClient, map_store: Path) -> None:
    _decide(analyst, "CL-0099", 0, "field_check")
    with open_store(map_store) as store:
        store.upsert("clearings", pd.DataFrame([{"clearing_id": "CL-0099", "merged_into": "CL-0001"}]))
    html = analyst.get("/review/clearings/CL-0099").get_data(as_text=True)
    assert "Merged into" in html and 'href="/review/clearings/CL-0001"' in html and 'id="ew-decide"' not in html
    assert 'data-outcome="applied"' in html  # the trail stays
    assert "CL-0099" in analyst.get("/review/clearings/CL-0001").get_data(as_text=True)  # merged from
    assert "CL-0099" not in analyst.get("/review/?status=any").get_data(as_text=True)


def test_chips(analyst: FlaskClient, map_store: Path, settings: Any) -> None:
    assert analyst.get("/review/clearings/CL-0001/chips/before_ndvi.png").status_code == 404  # no scenes to make it from
    assert analyst.get("/review/clearings/CL-0001/chips/secrets.png").status_code == 404
    folder = settings.data_dir / "quicklooks" / "demo" / "CL-0001"
    folder.mkdir(parents=True)
    (folder / "before_false_colour.png").write_bytes(b"\x89PNG\r\n\x1a\nfake")
    chip = analyst.get("/review/clearings/CL-0001/chips/before_true_colour.png")
    assert chip.status_code == 200 and chip.mimetype == "image/png"
    outside = settings.data_dir.parent / "secret.png"  # what "../secret.png" names
    outside.write_bytes(b"secret")
    with open_store(map_store) as store:
        store.upsert("clearings", pd.DataFrame([{"clearing_id": "CL-0002", "quicklooks": {"before_ndvi": "../secret.png"}}]))
    assert analyst.get("/review/clearings/CL-0002/chips/before_ndvi.png").status_code == 404


def test_sample_mode_and_accuracy_page(analyst: FlaskClient, map_store: Path, app: Flask) -> None:
    assert "No sample has been drawn" in analyst.get("/review/sample").get_data(as_text=True)
    with open_store(map_store) as store:
        write_clearings(store, clearing_rows(12))
    drawn = analyst.post("/review/sample", data={"per_stratum": "2", "points": "3", "aoi": "demo", "seed": "5", "csrf_token": token(analyst)})
    assert drawn.status_code == 303
    sid = drawn.headers["Location"].split("id=")[1]
    html = analyst.get(f"/review/sample?id={sid}").get_data(as_text=True)
    units = re.findall(r'<tr data-href="([^"]+)"><td><a href="[^"]+">([^<]+)</a>', html)
    assert units and any(u.startswith("PT-") for _, u in units)
    with open_store(map_store) as store:
        versions = dict(zip(store.read("clearings", columns=["clearing_id", "status_version"])["clearing_id"],
                            store.read("clearings", columns=["clearing_id", "status_version"])["status_version"].fillna(0), strict=True))
    for _, unit in units:
        version = 0 if unit.startswith("PT-") else int(versions[unit])
        decision = "dismiss" if unit.startswith("PT-") else "confirm"
        response = _decide(analyst, unit, version, decision, sample_id=sid, **({"reason": "natural"} if decision == "dismiss" else {}))
        assert response.status_code == 303, unit
    point = next(u for _, u in units if u.startswith("PT-"))
    assert "no clearing" in analyst.get(f"/review/sample/points/{point}?id={sid}").get_data(as_text=True)
    page = analyst.get(f"/review/accuracy?id={sid}").get_data(as_text=True)
    assert 'data-users-accuracy>100.0 % ± 0.0' in page and "Area of clearing" in page
    assert analyst.get("/review/accuracy?id=nope").status_code == 400
