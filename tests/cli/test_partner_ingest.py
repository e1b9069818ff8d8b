"""Two ecowatch instances on 127.0.0.1: B reads A's shared seizures and boundaries through A's OGC API
with an ngo token of A (``ecowatch ingest ... --from-ogcapi``); a second run changes nothing; B shows them
as grid cells with their origin and matches them to no clearing. The partner URL's rules: scheme
allow-list, same-origin next links and redirects, the token from the environment only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import orjson
import pytest
from click.testing import CliRunner, Result
from flask import Flask, redirect
from shapely.geometry import Point

from cli.main import cli
from config import load_settings
from layers import open_store
from layers.api_tokens import add_token
from tests.web.conftest import FAST_HASH, _seizure, build_map_store
from web import create_app
from web.server import background_server

PARTNER_ENV = {"ECOWATCH_PARTNER_SCHEMES": "http,https"}


@pytest.fixture
def agency_a(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A's app, served live, with one published seizure cell (four seizures) and one suppressed; an ngo token of A."""
    store = build_map_store(tmp_path / "a" / "a.gpkg")
    with open_store(store) as st:
        st.upsert("seizures", gpd.GeoDataFrame([_seizure(f"A-{i}", Point(107.41 + i / 1000, 13.71)) for i in range(3)],
                                               geometry="geometry", crs="EPSG:4326"))
        token = add_token(st, "agency-b", "ngo")
    app = create_app(load_settings({}, data_dir=tmp_path / "a" / "data", **FAST_HASH), store_url=str(store))
    with background_server(app) as base:
        yield base + "/api/ogc", token
    app.extensions["ecowatch"].close()


def _b(tmp_path: Path, *args: str, token: str | None = None, extra_env: dict[str, str] | None = None) -> Result:
    env = {"ECOWATCH_DATA_DIR": str(tmp_path / "b" / "data"), **PARTNER_ENV, **(extra_env or {})}
    if token is not None:
        env["A_TOKEN"] = token
    return CliRunner().invoke(cli, [*args, "--store", str(tmp_path / "b" / "b.gpkg")], env=env)


def test_b_reads_as_shared_seizures_idempotently_and_shows_them_as_cells(agency_a, tmp_path: Path) -> None:
    url, token = agency_a
    build_map_store(tmp_path / "b" / "b.gpkg")
    first = _b(tmp_path, "ingest", "seizures", "--from-ogcapi", url, "--collection", "seizures", "--token-env", "A_TOKEN", token=token)
    assert first.exit_code == 0, first.output
    assert "4 new, 0 updated, 0 unchanged" in first.output and "4 as grid cells" in first.output
    with open_store(tmp_path / "b" / "b.gpkg") as st:
        before = st.read("seizures")
    shared = before[before["origin_url"].notna()]
    assert len(shared) == 4 and set(shared["location_precision"]) == {"grid"} and set(shared["cell_deg"]) == {0.1}
    assert set(shared["origin_collection"]) == {"seizures"} and set(shared["source"]) == {url + "/collections/seizures/items"}
    assert {(round(p.x, 6), round(p.y, 6)) for p in shared.geometry} == {(107.45, 13.75)}  # A's cell centre, nothing finer
    assert shared["case_reference"].isna().all() and shared["agency"].isna().all()  # A's ngo view carries none
    assert all(sid.startswith(url + "/collections/seizures/items#") for sid in shared["seizure_id"])

    again = _b(tmp_path, "ingest", "seizures", "--from-ogcapi", url, "--collection", "seizures", "--token-env", "A_TOKEN", token=token)
    assert again.exit_code == 0 and "0 new, 0 updated, 4 unchanged" in again.output
    with open_store(tmp_path / "b" / "b.gpkg") as st:
        after = st.read("seizures")
    assert after.drop(columns="geometry").equals(before.drop(columns="geometry"))

    # analyse matches no clearing to a cell, nor ties it to a corridor
    assert _b(tmp_path, "analyse").exit_code == 0
    with open_store(tmp_path / "b" / "b.gpkg") as st:
        links = st.read("links")
        ties = st.read("seizures", where={"location_precision": "grid"})
    assert not [s for s in links["seizure_id"] if s.startswith(url)]
    assert ties["corridor_distance_km"].isna().all() and ties["crossing_distance_km"].isna().all()

    # B's map: the seizures at the cell centre, with precision, cell size and origin
    with open_store(tmp_path / "b" / "b.gpkg") as st:
        b_token = add_token(st, "b-planner", "planner")
    app_b = create_app(load_settings({}, data_dir=tmp_path / "b" / "data", **FAST_HASH), store_url=str(tmp_path / "b" / "b.gpkg"))
    body = orjson.loads(app_b.test_client().get("/api/layers/seizures/features?bbox=107,13,108,14",
                                                headers={"Authorization": f"Bearer {b_token}"}).data)
    app_b.extensions["ecowatch"].close()
    cells = [f for f in body["features"] if f["properties"].get("origin_url")]
    assert len(cells) == 4 and {f["properties"]["location_precision"] for f in cells} == {"grid"}
    assert {f["properties"]["cell_deg"] for f in cells} == {0.1}


def test_b_reads_as_boundaries_idempotently(agency_a, tmp_path: Path) -> None:
    url, token = agency_a
    args = ("ingest", "boundaries", "concessions", "--from-ogcapi", url, "--collection", "concessions", "--token-env", "A_TOKEN")
    first = _b(tmp_path, *args, token=token)
    assert first.exit_code == 0, first.output
    assert "2 new" in first.output
    assert "0 new, 0 updated, 2 unchanged" in _b(tmp_path, *args, token=token).output
    with open_store(tmp_path / "b" / "b.gpkg") as st:
        rows = st.read("concessions")
    assert len(rows) == 2 and set(rows["source"]) == {url + "/collections/concessions/items"}


def test_the_token_is_taken_from_the_environment_only(agency_a, tmp_path: Path) -> None:
    url, token = agency_a
    unset = _b(tmp_path, "ingest", "seizures", "--from-ogcapi", url, "--collection", "seizures", "--token-env", "A_TOKEN")
    assert unset.exit_code == 2 and "A_TOKEN" in unset.output
    no_token = _b(tmp_path, "ingest", "seizures", "--from-ogcapi", url, "--collection", "seizures")
    assert no_token.exit_code == 1 and "refused the request (401)" in no_token.output
    wrong = _b(tmp_path, "ingest", "seizures", "--from-ogcapi", url, "--collection", "nope", "--token-env", "A_TOKEN", token=token)
    assert wrong.exit_code == 1 and "404" in wrong.output
    assert _b(tmp_path, "ingest", "seizures", "--collection", "seizures").exit_code == 2
    assert _b(tmp_path, "ingest", "seizures", "x.csv", "--from-ogcapi", url, "--collection", "seizures").exit_code == 2
    https_only = _b(tmp_path, "ingest", "seizures", "--from-ogcapi", url, "--collection", "seizures", "--token-env", "A_TOKEN",
                    token=token, extra_env={"ECOWATCH_PARTNER_SCHEMES": "https"})
    assert https_only.exit_code == 1 and "partner_schemes" in https_only.output
    assert token not in "".join(r.output for r in (unset, no_token, wrong, https_only))


@pytest.fixture
def hostile_partner() -> Iterator[str]:
    """A server whose next link, or whose redirect, leads to another origin (a metadata address, another port)."""
    app = Flask("hostile")

    @app.get("/api/collections/<name>")
    def about(name: str):
        if name == "moved":
            return redirect("http://169.254.169.254/latest/meta-data/", code=302)
        return {"id": name, "title": name}

    @app.get("/api/collections/<name>/items")
    def items(name: str):
        return {"type": "FeatureCollection", "features": [], "links": [
            {"rel": "next", "type": "application/geo+json", "href": "http://127.0.0.2:9/api/collections/x/items?offset=1"}]}

    with background_server(app, production=False) as base:
        yield base + "/api"


def test_next_links_and_redirects_off_the_partner_are_refused(hostile_partner: str, tmp_path: Path) -> None:
    off = _b(tmp_path, "ingest", "seizures", "--from-ogcapi", hostile_partner, "--collection", "seizures")
    assert off.exit_code == 1 and "leaves the partner's origin" in off.output and "127.0.0.2" in off.output
    moved = _b(tmp_path, "ingest", "seizures", "--from-ogcapi", hostile_partner, "--collection", "moved")
    assert moved.exit_code == 1 and "leaves the partner's origin" in moved.output and "169.254.169.254" in moved.output
