"""Real third-party clients against a live server: OWSLib and GDAL's OAPIF driver (Debian's ``ogrinfo``).

Both read as an API token's role (``Authorization: Bearer``): the planner's counts equal the
store's, the ngo's equal what the gate gives the ngo (generalised seizures: cell centres, small
cells left out), and GDAL, paging two features at a time through the ``next`` links, reads the
same number as OWSLib and the store.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import Point

from config import Settings
from layers import open_store
from layers.api_tokens import add_token, revoke_token
from layers.catalog import get_layer
from layers.opaque_ids import load_id_key
from layers.redaction import Access, count_redacted
from web import create_app
from web.server import background_server

from .conftest import _seizure

OGRINFO = "ogrinfo"


def _require_ogrinfo() -> str:
    found = shutil.which(OGRINFO)
    if found is None:
        message = "GDAL's OAPIF client needs ogrinfo (Debian's gdal-bin: bash scripts/system-deps.sh)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture
def served(settings: Settings, map_store: Path) -> Iterator[tuple[str, dict[str, str], Path]]:
    """The test store with three more seizures in S-2's cell (so the ngo sees one published cell), served live."""
    with open_store(map_store) as st:
        st.upsert("seizures", gpd.GeoDataFrame(
            [_seizure(f"S-{i}", Point(107.41 + i / 1000, 13.71)) for i in range(3, 6)], geometry="geometry", crs="EPSG:4326"))
        tokens = {role: add_token(st, f"{role}-client", role) for role in ("planner", "ngo", "viewer")}
    app = create_app(settings, store_url=str(map_store))
    with background_server(app) as base:
        yield base + "/api/ogc", tokens, map_store
    app.extensions["ecowatch"].close()


def _store_count(store_path: Path, settings: Settings, layer: str, role: str, bbox=None) -> int:
    with open_store(store_path, readonly=True) as st:
        access = Access(role, load_id_key(settings)) if role in ("ngo", "viewer") else Access(role)
        return count_redacted(st, get_layer(layer), access, bbox=bbox)


def _ogr_features(ogrinfo: str, url: str, layer: str, token: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROJ_", "GDAL_"))}
    env.update({"GDAL_HTTP_HEADERS": f"Authorization: Bearer {token}", "CPL_DEBUG": "ON"})
    result = subprocess.run([ogrinfo, "-ro", "-al", "-oo", "PAGE_SIZE=2", f"OAPIF:{url}", layer],
                            capture_output=True, text=True, env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return len(re.findall(r"^OGRFeature\(", result.stdout, flags=re.MULTILINE)), result.stdout + result.stderr


def test_owslib_lists_collections_and_reads_items_in_a_bbox(served, settings: Settings, facts) -> None:
    from owslib.ogcapi.features import Features

    url, tokens, store_path = served
    for role in ("planner", "ngo", "viewer"):
        api = Features(url, headers={"Authorization": f"Bearer {tokens[role]}"})
        ids = [c["id"] for c in api.collections()["collections"]]
        assert ("seizures" in ids) == (role != "viewer")
        assert "clearings" in ids and "users" not in ids and "api_tokens" not in ids
        got = api.collection_items("clearings", bbox=list(facts.aoi_bounds), limit=100)
        assert got["numberMatched"] == len(got["features"]) == _store_count(store_path, settings, "clearings", role, facts.aoi_bounds)
    planner = Features(url, headers={"Authorization": f"Bearer {tokens['planner']}"})
    exact = planner.collection_items("seizures", bbox=list(facts.aoi_bounds))
    assert exact["numberMatched"] == 5 and {"case_reference", "agency"} <= set(exact["features"][0]["properties"])
    ngo = Features(url, headers={"Authorization": f"Bearer {tokens['ngo']}"})
    shared = ngo.collection_items("seizures", bbox=list(facts.aoi_bounds))
    # S-2 and the three new ones share a cell; S-1 (on the cell's western edge, 107.40 in binary floating point is
    # just below it) and S-9 are alone in theirs and left out
    assert shared["numberMatched"] == 4
    for f in shared["features"]:
        assert f["geometry"]["coordinates"] == [107.45, 13.75] and not f["id"].startswith("S-")
        assert not {"case_reference", "agency", "notes", "place", "corridor_distance_km"} & set(f["properties"])
    one = ngo.collection_item("seizures", shared["features"][0]["id"])
    assert one["geometry"] == shared["features"][0]["geometry"]


def test_gdal_pages_through_a_collection_and_agrees_with_owslib_and_the_store(served, settings: Settings) -> None:
    from owslib.ogcapi.features import Features

    ogrinfo = _require_ogrinfo()
    url, tokens, store_path = served
    for role, layer in (("planner", "seizures"), ("ngo", "seizures"), ("planner", "clearings"), ("viewer", "clearings")):
        n, log = _ogr_features(ogrinfo, url, layer, tokens[role])
        owslib = Features(url, headers={"Authorization": f"Bearer {tokens[role]}"}).collection_items(layer, limit=1000)
        assert n == owslib["numberMatched"] == len(owslib["features"]) == _store_count(store_path, settings, layer, role), (role, layer)
        if n > 2:
            assert "offset=2" in log  # GDAL followed a next link
        if role == "ngo":
            assert "CASE-" not in log and "Forestry Administration" not in log


def test_a_revoked_token_reads_nothing(served) -> None:
    from owslib.ogcapi.features import Features

    ogrinfo = _require_ogrinfo()
    url, tokens, store_path = served
    with open_store(store_path) as st:
        revoke_token(st, "planner-client")
    with pytest.raises(Exception, match="401"):
        Features(url, headers={"Authorization": f"Bearer {tokens['planner']}"}).collections()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROJ_", "GDAL_"))}
    env["GDAL_HTTP_HEADERS"] = f"Authorization: Bearer {tokens['planner']}"
    result = subprocess.run([ogrinfo, "-ro", "-so", f"OAPIF:{url}"], capture_output=True, text=True, env=env, timeout=60, check=False)
    assert result.returncode != 0 and "401" in result.stderr
