"""The map's search box endpoint: ids and names, as each role may find them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest
from flask.testing import FlaskClient


def _search(client: FlaskClient, q: str) -> list[dict[str, Any]]:
    response = client.get("/api/search", query_string={"q": q})
    assert response.status_code == 200, response.data
    results: list[dict[str, Any]] = orjson.loads(response.data)["results"]
    return results


def test_a_clearing_by_its_id_with_its_box(client_as: Callable[[str], FlaskClient], facts: Any) -> None:
    for role in ("planner", "ngo", "analyst"):
        hits = _search(client_as(role), facts.hostile_clearing.lower())
        assert [(h["layer"], h["label"]) for h in hits] == [("clearings", facts.hostile_clearing)]
        assert hits[0]["bbox"] == [107.365, 13.605, 107.385, 13.625]


def test_the_viewer_finds_only_confirmed_clearings(client_as: Callable[[str], FlaskClient], facts: Any) -> None:
    viewer = client_as("viewer")
    assert _search(viewer, facts.hostile_clearing) == []
    assert [h["label"] for h in _search(viewer, facts.confirmed_clearing)] == [facts.confirmed_clearing]


def test_names_of_protected_areas_and_concessions(client: FlaskClient, facts: Any) -> None:
    assert [(h["layer"], h["label"]) for h in _search(client, "yadav")] == [("protected_areas", "O Yadav")]
    assert [(h["layer"], h["label"]) for h in _search(client, "mekong agro")] == [("concessions", "Mekong Agro Co.")]
    assert [(h["layer"], h["label"]) for h in _search(client, "el-2")] == [("concessions", "Mekong Agro Co.")]
    assert _search(client, "nowhere at all") == []


@pytest.mark.parametrize("q", ["", "   ", "<script>", "x" * 101])
def test_bad_queries_are_a_400(client: FlaskClient, q: str) -> None:
    response = client.get("/api/search", query_string={"q": q})
    assert response.status_code == 400
    assert orjson.loads(response.data)["parameter"] == "q"
