"""Route x role -> status, for every route of the app's URL map.

The table below must name every endpoint the app has: a new route fails
:func:`test_the_table_covers_every_route` until its expected answers are written here, so no
route can be forgotten. Each row gives a request (method, path, form) and the status expected
for an anonymous caller and for each role; POSTs carry a valid CSRF token of the caller's own
session (the CSRF refusal itself is tested in ``test_auth.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from config import Settings
from layers.access_log import read_events
from layers.redaction import ROLES
from web import create_app

from .conftest import PASSWORDS, csrf_token, log_in

ANON = "anonymous"
CALLERS = (ANON, *ROLES)
BBOX = "bbox=107.35,13.56,107.53,13.75"
OPEN_ENDPOINTS = {"static", "auth.login", "auth.login_post",  # what an anonymous caller may reach
                  "watch.unsubscribe_page", "watch.unsubscribe_post"}  # an e-mail's signed unsubscribe link (RFC 8058)


@dataclass(frozen=True)
class Case:
    """One request and the status each caller gets."""

    endpoint: str
    method: str
    path: str
    expected: dict[str, int]
    form: dict[str, str] = field(default_factory=dict)


def _all(status: int, **overrides: int) -> dict[str, int]:
    return {role: overrides.get(role, status) for role in ROLES}


DESK_ONLY = _all(200, viewer=403, ngo=403)

CASES: tuple[Case, ...] = (
    Case("static", "GET", "/static/pages.css", {ANON: 200, **_all(200)}),
    Case("auth.login", "GET", "/login", {ANON: 200, **_all(302)}),
    Case("auth.login_post", "POST", "/login", {ANON: 401, **_all(401)}, {"username": "nobody", "password": "wrong-password-here"}),
    Case("auth.logout", "POST", "/logout", {ANON: 302, **_all(303)}),
    Case("map.index", "GET", "/", {ANON: 302, **_all(200)}),
    Case("api.layers", "GET", "/api/layers", {ANON: 401, **_all(200)}),
    Case("api.features", "GET", f"/api/layers/clearings/features?{BBOX}", {ANON: 401, **_all(200)}),
    Case("api.features", "GET", f"/api/layers/seizures/features?{BBOX}", {ANON: 401, **_all(200, viewer=404)}),
    Case("api.features", "GET", f"/api/layers/observation_gaps/features?{BBOX}", {ANON: 401, **_all(200, viewer=404)}),
    Case("map_search.find", "GET", "/api/search?q=CL-0001", {ANON: 401, **_all(200)}),
    Case("imagery.dates", "GET", "/api/imagery/dates", {ANON: 401, **_all(200, viewer=403)}),
    Case("imagery.tile", "GET", "/tiles/imagery/2024-02-01/12/3269/1906.png", {ANON: 302, **_all(200, viewer=403)}),
    # OGC API - Features: every role reads the collections it may see; others are unknown to it (404)
    Case("ogcapi.landing", "GET", "/api/ogc", {ANON: 401, **_all(200)}),
    Case("ogcapi.conformance", "GET", "/api/ogc/conformance", {ANON: 401, **_all(200)}),
    Case("ogcapi.openapi", "GET", "/api/ogc/api", {ANON: 401, **_all(200)}),
    Case("ogcapi.openapi_html", "GET", "/api/ogc/api.html", {ANON: 401, **_all(200)}),
    Case("ogcapi.collections_list", "GET", "/api/ogc/collections", {ANON: 401, **_all(200)}),
    Case("ogcapi.collection", "GET", "/api/ogc/collections/seizures", {ANON: 401, **_all(200, viewer=404)}),
    Case("ogcapi.queryables_doc", "GET", "/api/ogc/collections/clearings/queryables", {ANON: 401, **_all(200)}),
    Case("ogcapi.items", "GET", "/api/ogc/collections/seizures/items", {ANON: 401, **_all(200, viewer=404)}),
    Case("ogcapi.items", "GET", "/api/ogc/collections/users/items", {ANON: 401, **_all(404)}),
    # row 1 is CL-0001, not confirmed: the viewer does not see it
    Case("ogcapi.item", "GET", "/api/ogc/collections/clearings/items/1", {ANON: 401, **_all(200, viewer=404)}),
    # vector tiles: every role, of the layers it may read
    Case("tiles.tile", "GET", "/api/tiles/clearings/10/817/468.mvt", {ANON: 401, **_all(200)}),
    Case("tiles.tile", "GET", "/api/tiles/seizures/10/817/468.mvt", {ANON: 401, **_all(200, viewer=404)}),
    # downloads: every role but the viewer (who only views) exports what it may see
    Case("exports.download", "GET", "/api/exports/clearings/csv", {ANON: 401, **_all(200, viewer=403)}),
    Case("exports.download", "GET", "/api/exports/seizures/gpkg?period=2024", {ANON: 401, **_all(200, viewer=403)}),
    # the review desk: planners look, analysts and admins decide; the admin decides second, on
    # the version the analyst's decision replaced, and is answered 409
    Case("review.queue", "GET", "/review/", {ANON: 302, **DESK_ONLY}),
    Case("review.clearing", "GET", "/review/clearings/CL-0001", {ANON: 302, **DESK_ONLY}),
    Case("review.step", "GET", "/review/step?current=CL-0001&pos=0", {ANON: 302, **_all(303, viewer=403, ngo=403)}),
    Case("review.decision", "POST", "/review/clearings/CL-0001/decision", {ANON: 302, **_all(403, analyst=303, admin=409)},
         {"decision": "field_check", "version": "0"}),
    Case("review.bulk", "POST", "/review/bulk", {ANON: 302, **_all(403, analyst=200, admin=409)},
         {"clearing": "CL-0099:0", "decision": "field_check"}),
    Case("review_files.chip", "GET", "/review/clearings/CL-0001/chips/before_ndvi.png", {ANON: 302, **_all(404, viewer=403, ngo=403)}),
    Case("review_files.field_gpx", "GET", "/review/field-check.gpx", {ANON: 302, **DESK_ONLY}),
    Case("review_files.field_kml", "GET", "/review/field-check.kml", {ANON: 302, **DESK_ONLY}),
    Case("review_sample.sample", "GET", "/review/sample", {ANON: 302, **DESK_ONLY}),
    Case("review_sample.new_sample", "POST", "/review/sample", {ANON: 302, **_all(403, analyst=303, admin=303)}, {"per_stratum": "2"}),
    Case("review_sample.point", "GET", "/review/sample/points/PT-none", {ANON: 302, **_all(404, viewer=403, ngo=403)}),
    Case("review_sample.accuracy", "GET", "/review/accuracy", {ANON: 302, **DESK_ONLY}),
    # evidence reports: every role but the viewer, each seeing its own redaction
    Case("evidence.clearing", "GET", "/reports/clearings/CL-0001", {ANON: 302, **_all(200, viewer=403)}),
    Case("evidence.clearing_pdf", "GET", "/reports/clearings/CL-0001.pdf", {ANON: 302, **_all(200, viewer=403)}),
    Case("evidence.clearing_json", "GET", "/reports/clearings/CL-0001.json", {ANON: 302, **_all(200, viewer=403)}),
    Case("evidence.segment", "GET", "/reports/segments/SEG-none", {ANON: 302, **_all(404, viewer=403)}),
    Case("evidence.segment_pdf", "GET", "/reports/segments/SEG-none.pdf", {ANON: 302, **_all(404, viewer=403)}),
    Case("evidence.segment_json", "GET", "/reports/segments/SEG-none.json", {ANON: 302, **_all(404, viewer=403)}),
    # watch areas: every role keeps its own; the unsubscribe link answers anyone holding a valid signed token
    Case("watch.index", "GET", "/watch/", {ANON: 302, **_all(200)}),
    Case("watch.create", "POST", "/watch/", {ANON: 302, **_all(201)},
         {"name": "O Yadav", "how": "picked", "pick_kind": "protected_area", "pick_ref": "PA-1", "frequency": "daily", "email": "on"}),
    Case("watch.delete", "POST", "/watch/WA-0000000000000000/delete", {ANON: 302, **_all(404)}),
    Case("watch.stop", "POST", "/watch/subscriptions/SUB-0000000000000000/stop", {ANON: 302, **_all(404)}),
    Case("watch.unsubscribe_page", "GET", f"/watch/unsubscribe/SUB-0000000000000000/{'0' * 40}", {ANON: 404, **_all(404)}),
    Case("watch.unsubscribe_post", "POST", f"/watch/unsubscribe/SUB-0000000000000000/{'0' * 40}", {ANON: 404, **_all(404)}),
)


@pytest.fixture
def roomy_app(settings: Settings, map_store: Path) -> Iterator[Flask]:
    """The test app with a throttle that the table's wrong passwords cannot trip."""
    app = create_app(settings.model_copy(update={"login_max_failures": 1000}), store_url=str(map_store))
    app.config["TESTING"] = True
    yield app
    app.extensions["ecowatch"].close()


@pytest.fixture
def callers(roomy_app: Flask) -> Callable[[str], FlaskClient]:
    def make(who: str) -> FlaskClient:
        client = roomy_app.test_client()
        if who != ANON:
            assert log_in(client, who, PASSWORDS[who]).status_code == 303
        return client

    return make


def test_the_table_covers_every_route(app: Flask) -> None:
    routes = {(rule.endpoint, method) for rule in app.url_map.iter_rules() for method in rule.methods or () if method not in ("HEAD", "OPTIONS")}
    tabled = {(case.endpoint, case.method) for case in CASES}
    assert routes - tabled == set(), "routes without expected statuses: add them to CASES"
    assert tabled - routes == set(), "CASES names routes the app does not have"
    for case in CASES:
        assert set(case.expected) == set(CALLERS), f"{case.endpoint}: expected statuses for {set(CALLERS) - set(case.expected)}"


def test_every_route_refuses_anonymous_callers_but_login_and_static(app: Flask) -> None:
    for case in CASES:
        if case.endpoint in OPEN_ENDPOINTS:
            continue
        assert case.expected[ANON] in (302, 401), f"{case.endpoint} answers anonymous callers"


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.method} {c.path.split('?')[0]}")
def test_route_answers_each_caller_as_tabled(case: Case, callers: Callable[[str], FlaskClient]) -> None:
    for who in CALLERS:
        client = callers(who)
        if case.method == "GET":
            response = client.get(case.path)
        else:
            token = csrf_token(client.get("/login" if who == ANON else "/").get_data(as_text=True))
            response = client.open(case.path, method=case.method, data={**case.form, "csrf_token": token})
        response.close()  # static files are streamed from an open file
        assert response.status_code == case.expected[who], f"{case.method} {case.path} as {who}: {response.status_code}"
        if response.status_code == 302 and who == ANON:
            assert response.headers["Location"].startswith("/login?next=")


def test_an_undeclared_route_is_refused_to_every_role(app: Flask, client_as: Callable[[str], FlaskClient]) -> None:
    """A route that forgets to declare its roles answers 403 to everyone and is logged."""
    app.add_url_rule("/forgotten", "forgotten", lambda: "forgotten-secret")
    for role in ROLES:
        response = client_as(role).get("/forgotten")
        assert response.status_code == 403 and "forgotten-secret" not in response.get_data(as_text=True)
    assert app.test_client().get("/forgotten").status_code == 302  # anonymous: to the login page first
    refused = read_events(app.extensions["ecowatch"].store(), "refused")
    assert list(refused["path"]) == ["/forgotten"] * len(ROLES)
    assert set(refused["status"]) == {403} and set(refused["role"]) == set(ROLES)


def test_a_role_outside_the_declared_ones_is_refused_and_logged(app: Flask, client_as: Callable[[str], FlaskClient]) -> None:
    from web.access import roles_allowed

    app.add_url_rule("/admins-only", "admins_only", roles_allowed("admin")(lambda: "secret"))
    assert client_as("admin").get("/admins-only").get_data(as_text=True) == "secret"
    response = client_as("analyst").get("/admins-only")
    assert response.status_code == 403 and "secret" not in response.get_data(as_text=True)
    (event,) = read_events(app.extensions["ecowatch"].store(), "refused").to_dict("records")
    assert (event["username"], event["role"], event["path"], event["status"]) == ("analyst", "analyst", "/admins-only", 403)


def test_roles_allowed_rejects_unknown_roles() -> None:
    from layers.errors import LayerError
    from web.access import roles_allowed

    with pytest.raises(LayerError, match="unknown role"):
        roles_allowed("superuser")
    with pytest.raises(ValueError, match="at least one role"):
        roles_allowed()


# Store methods that return rows or counts of a layer: web/ may call them only through layers/
# functions that take the caller's role (layers.redaction), never on the store itself.
_READING_METHODS = {"read", "count"}


def test_no_view_reads_the_store_without_a_role() -> None:
    import ast

    web = Path(__file__).resolve().parents[2] / "web"
    offenders = []
    for path in sorted(web.glob("**/*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _READING_METHODS:
                owner = ast.unparse(node.func.value)
                if "store" in owner.lower():
                    offenders.append(f"{path.name} line {node.lineno}: {ast.unparse(node.func)}")
    assert offenders == [], "read layers through layers.redaction (read_redacted / count_redacted) with the caller's role"
