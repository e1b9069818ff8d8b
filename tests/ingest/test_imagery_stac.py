"""The ``stac`` provider: the real ``pystac-client`` and our range-request client against a fake STAC API.

The fake (tests/ingest/fake_stac.py) serves a landing page, ``POST /search`` and the items' COGs
with HTTP range requests (or redirects, when told to), counting requests and bytes per file.
Only its host:port is allowed.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import urllib3.util.connection
from werkzeug.wrappers import Request, Response

from config import Settings, load_settings
from ingest.imagery.errors import ProviderError, RedirectNotAllowedError, URLNotAllowedError
from ingest.imagery.urls import check_url
from jobs.ingest_imagery import ingest_imagery
from jobs.runs import Run
from layers.store import Store
from tests.ingest.fake_servers import serve
from tests.ingest.fake_stac import FakeStac, write_assets
from tests.ingest.reference_scenes import (
    AOI_NAME,
    aoi_window_of,
    expected_window,
    reference,
    store_with_aoi,
)

DAYS = [dt.date(2023, 9, 1), dt.date(2023, 9, 11), dt.date(2023, 9, 21), dt.date(2023, 10, 1)]
CORNER = (761_400.0, 1_506_500.0, 761_800.0, 1_506_900.0)  # 40 x 40 px inside one 64 px block of the 10 m COGs


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeStac]:
    ref = reference()
    write_assets(ref, tmp_path / "cogs", DAYS)
    server = FakeStac(ref, tmp_path / "cogs", DAYS)
    with serve(server) as url:
        server.base = url
        yield server


def stac_settings(tmp_path: Path, server: FakeStac, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data", "stac_url": f"{server.base}/", "stac_asset_schemes": ("http",),
        "stac_asset_hosts": (server.base.removeprefix("http://"),), "imagery_retry_s": 0.01,
    }
    return load_settings({}, **(values | overrides))


def run(store: Store, settings: Settings, first: dt.date = DAYS[0], last: dt.date = DAYS[-1], **kwargs: Any) -> Run:
    return ingest_imagery(store, settings, provider="stac", aoi=AOI_NAME, date_from=first, date_to=last, **kwargs)


def cog_requests(server: FakeStac) -> int:
    return server.hits.counts["cog"]


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every (host, port) a connection is opened to by urllib3 (under requests and pystac-client)."""
    opened: list[tuple[str, int]] = []
    real = urllib3.util.connection.create_connection

    def recording(address: tuple[str, int], *args: Any, **kwargs: Any) -> Any:
        opened.append((address[0], address[1]))
        return real(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", recording)
    return opened


def fake_address(server: FakeStac) -> tuple[str, int]:
    host, port = server.base.removeprefix("http://").split(":")
    return host, int(port)


def test_only_the_aoi_is_read_with_range_requests_and_values_are_the_reference(tmp_path, fake):
    settings = stac_settings(tmp_path, fake)
    store = store_with_aoi(tmp_path, settings, bounds=CORNER)
    result = run(store, settings, DAYS[0], DAYS[0])
    assert "1 fetched" in result.message
    (path,) = store.read("scenes")["path"]
    crs, transform, data = aoi_window_of(Path(path), CORNER)
    assert crs == "EPSG:32648" and data.shape == (8, 40, 40) and transform[2:6:3] == (CORNER[0], CORNER[3])
    # harmonised (the +1000 offset removed), SCL and B8A/B11/B12 from 20 m onto the 10 m grid
    np.testing.assert_array_equal(data, expected_window(DAYS[0], CORNER))
    for key in ("blue", "green", "red", "nir"):  # the 10 m COGs: 4 x 4 blocks of 64 px, the AOI in one
        name = f"{DAYS[0]:%Y%m%d}_{key}.tif"
        size = (fake.folder / name).stat().st_size
        assert 0 < fake.hits.bytes_sent[f"bytes:{name}"] < 0.4 * size, (name, fake.hits.bytes_sent[f"bytes:{name}"], size)


def test_a_rerun_makes_zero_data_requests_and_refresh_fetches_again(tmp_path, fake):
    settings = stac_settings(tmp_path, fake)
    store = store_with_aoi(tmp_path, settings)
    first = run(store, settings)
    assert first.message.startswith("4 scene(s) for ref-aoi: 4 new") and "4 fetched" in first.message
    fetched = cog_requests(fake)
    assert fetched > 0
    for path, day in zip(*[store.read("scenes").sort_values("acquired")[c] for c in ("path", "acquired")], strict=True):
        np.testing.assert_array_equal(aoi_window_of(Path(path))[2], expected_window(day.date()))
    again = run(store, settings)
    assert "0 fetched, 4 from the cache" in again.message
    assert cog_requests(fake) == fetched  # not one range request
    assert fake.hits.counts["search"] == 2
    refreshed = run(store, settings, refresh=True)
    assert "4 fetched, 0 from the cache" in refreshed.message and cog_requests(fake) > fetched


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "scheme 'file' is not allowed"),
        ("/vsicurl/http://127.0.0.1:8000/x.tif", "scheme '(none)' is not allowed"),
        ("../../etc/passwd", "scheme '(none)' is not allowed"),
        ("http://127.0.0.1:5432/x.tif", "host 127.0.0.1:5432 is not in the allowed hosts (127.0.0.1:8000)"),
        ("http://127.0.0.1/x.tif", "host 127.0.0.1:80 is not in the allowed hosts"),
        ("http://localhost:8000/x.tif", "host localhost:8000 is not in the allowed hosts"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[fe80::1]:8000/x.tif", "link-local"),
        ("http://[::ffff:169.254.169.254]:8000/x.tif", "link-local"),  # IPv4-mapped
        ("http://[64:ff9b::a9fe:a9fe]/latest/meta-data/", "link-local"),  # NAT64 of 169.254.169.254
        ("https://127.0.0.1:8000/x.tif", "scheme 'https' is not allowed"),
        ("http://user:pw@127.0.0.1:8000/x.tif", "user names or passwords"),
    ],
)
def test_the_allow_list_refuses_local_files_other_ports_and_metadata_addresses(url, reason):
    with pytest.raises(URLNotAllowedError) as info:
        check_url(url, schemes=("http",), hosts=("127.0.0.1:8000",))
    assert reason in str(info.value) and str(info.value).startswith(url)


def test_the_allow_list_admits_listed_hosts():
    assert check_url("http://127.0.0.1:8000/a.tif", schemes=("http",), hosts=("127.0.0.1:8000",))
    assert check_url("https://sentinel-cogs.example.org/a.tif", schemes=("https",), hosts=("*.example.org",))
    assert check_url("https://cogs.example.org:443/a.tif", schemes=("https",), hosts=("cogs.example.org",))
    with pytest.raises(URLNotAllowedError):
        check_url("https://example.org.evil.net/a.tif", schemes=("https",), hosts=("*.example.org",))


def test_a_hostile_catalogue_cannot_make_us_read_files_other_ports_or_metadata(tmp_path, fake):
    seen: list[str] = []

    def other_service(environ, start_response):
        seen.append(environ["PATH_INFO"])
        return Response("secret", status=200)(environ, start_response)

    with serve(other_service) as other:
        hostile = {"file": "file:///etc/passwd", "port": f"{other}/internal.tif", "metadata": "http://169.254.169.254/latest/meta-data/x.tif"}
        for n, (what, href) in enumerate(hostile.items()):
            item = fake.item(DAYS[n])
            item["id"] = f"hostile-{what}"
            item["assets"]["red"]["href"] = href
            fake.extra_items.append(item)
        settings = stac_settings(tmp_path, fake)
        store = store_with_aoi(tmp_path, settings)
        result = run(store, settings)
    assert seen == []
    assert "4 scene(s)" in result.message and "rejected 3" in result.message
    with result.rejects_path.open() as fh:
        rejects = {r["row"]: r for r in csv.DictReader(fh)}
    assert set(rejects) == {"hostile-file", "hostile-port", "hostile-metadata"}
    assert "scheme 'file' is not allowed" in rejects["hostile-file"]["reason"] and rejects["hostile-file"]["field"] == "assets.red"
    assert "is not in the allowed hosts" in rejects["hostile-port"]["reason"]
    assert "link-local" in rejects["hostile-metadata"]["reason"]


def test_requests_may_only_go_to_the_stac_api_itself(tmp_path, fake):
    with serve(lambda e, s: Response("{}", status=200)(e, s)) as elsewhere:
        landing = fake.landing

        def landing_linking_elsewhere():
            page = landing()
            for link in page["links"]:
                if link["rel"] == "search":
                    link["href"] = f"{elsewhere}/search"
            return page

        fake.landing = landing_linking_elsewhere
        settings = stac_settings(tmp_path, fake)
        store = store_with_aoi(tmp_path, settings)
        with pytest.raises(ProviderError, match="the catalogue linked outside the STAC API"):
            run(store, settings)
    assert store.read("scenes").empty


@pytest.mark.parametrize("status", [302, 307])
def test_the_stac_api_cannot_redirect_a_search_elsewhere(tmp_path, fake, connections, status):
    """requests follows redirects by itself, after pystac-client's request check saw only the first request."""
    seen: list[str] = []

    def other_service(environ, start_response):
        seen.append(environ["PATH_INFO"])
        return Response('{"type": "FeatureCollection", "features": [], "links": []}', mimetype="application/json")(environ, start_response)

    with serve(other_service) as other:
        route = fake.route

        def redirecting(request: Request) -> Response:
            if request.path == "/search":
                return Response("", status=status, headers={"Location": f"{other}/internal-search"})
            return route(request)

        fake.route = redirecting
        settings = stac_settings(tmp_path, fake)
        store = store_with_aoi(tmp_path, settings)
        with pytest.raises(ProviderError, match=f"STAC search failed: .*{other}/internal-search.*redirected outside itself"):
            run(store, settings)
    assert seen == [] and set(connections) == {fake_address(fake)}
    assert store.read("scenes").empty


def test_an_interrupted_download_leaves_nothing_and_the_next_run_fetches_only_it(tmp_path, fake):
    settings = stac_settings(tmp_path, fake)
    store = store_with_aoi(tmp_path, settings)
    broken = f"{DAYS[1]:%Y%m%d}_nir.tif"
    fake.fail_files[broken] = deque([0, 503, 503, 503])  # the header arrives, then the data never does
    first = run(store, settings)
    assert "3 scene(s)" in first.message and "rejected 1" in first.message
    assert sorted(store.read("scenes")["acquired"].dt.date) == [DAYS[0], DAYS[2], DAYS[3]]
    cache = tmp_path / "data" / "imagery" / "stac" / AOI_NAME
    assert sorted(p.name[:8] for p in cache.iterdir()) == [f"{d:%Y%m%d}" for d in (DAYS[0], DAYS[2], DAYS[3])]  # no .part
    fake.hits.reset()
    second = run(store, settings)
    assert "1 fetched, 3 from the cache" in second.message and "4 scene(s)" in second.message
    assert fake.hits.counts["cog"] > 0 and all(
        f"{DAYS[1]:%Y%m%d}" in key for key in fake.hits.bytes_sent if key.startswith("bytes:")
    )
    (path,) = store.read("scenes", where={"acquired": DAYS[1]})["path"] if False else [
        p for p, d in zip(store.read("scenes")["path"], store.read("scenes")["acquired"].dt.date, strict=True) if d == DAYS[1]
    ]
    np.testing.assert_array_equal(aoi_window_of(Path(path))[2], expected_window(DAYS[1]))


def test_a_catalogue_without_the_query_extension_is_filtered_here(tmp_path, fake):
    fake.with_query = False
    settings = stac_settings(tmp_path, fake)
    store = store_with_aoi(tmp_path, settings)
    cloudy = [d for d in DAYS if reference().cloud_cover(d) > 10]
    assert cloudy  # 2023-09-11 is 44 % cloud
    result = run(store, settings, max_cloud=10)
    assert sorted(store.read("scenes")["acquired"].dt.date) == [d for d in DAYS if d not in cloudy]
    assert f"{len(DAYS) - len(cloudy)} fetched" in result.message


def _first_byte(request: Request) -> int:
    return request.range.ranges[0][0] if request.range else 0


@pytest.mark.parametrize("which", ["header", "tiles"])
@pytest.mark.parametrize("where", ["other-port", "metadata"])
def test_a_redirect_outside_the_allow_list_fails_the_run_and_is_never_followed(tmp_path, fake, connections, where, which):
    seen: list[str] = []

    def other_service(environ, start_response):
        seen.append(environ["PATH_INFO"])
        return Response("secret", status=200)(environ, start_response)

    with serve(other_service) as other:
        target = f"{other}/internal.tif" if where == "other-port" else "http://169.254.169.254/latest/meta-data/iam"
        # the first request of each file (its header) or only the later ones (its tiles) are sent elsewhere:
        # checking the asset URL once before handing it over would miss the second kind
        fake.redirect = lambda request: target if (_first_byte(request) == 0) == (which == "header") else None
        settings = stac_settings(tmp_path, fake)
        store = store_with_aoi(tmp_path, settings)
        with pytest.raises(RedirectNotAllowedError) as info:
            run(store, settings)
    asset = f"{fake.base}/cogs/{DAYS[0]:%Y%m%d}_{'blue' if which == 'header' else 'scl'}.tif"  # B02 is opened first, SCL read first
    allowed = fake.base.removeprefix("http://")
    why = (
        f"host 127.0.0.1:{other.rsplit(':', 1)[1]} is not in the allowed hosts ({allowed}); set ECOWATCH_STAC_ASSET_HOSTS to read it"
        if where == "other-port" else "169.254.169.254 is a link-local, unspecified or multicast address (e.g. a cloud metadata service)"
    )
    assert str(info.value) == f"{asset}: refused: the server redirected to {target}: {why}"
    assert (info.value.url, info.value.target) == (asset, target)
    assert seen == [] and set(connections) == {fake_address(fake)}  # the target was never contacted
    assert fake.hits.counts["redirect"] == 1  # the run stopped at the first refused redirect
    assert store.read("scenes").empty
    assert not [p for p in (tmp_path / "data").rglob("*") if p.is_file() and "imagery" in p.parts]  # nothing in the cache


def test_a_redirect_within_the_allowed_host_is_followed_and_values_are_the_reference(tmp_path, fake, connections):
    # every COG request is sent once more, with a relative Location, to the same file on the same host:port
    fake.redirect = lambda request: None if "moved" in request.args else f"{request.path}?moved=1"
    settings = stac_settings(tmp_path, fake)
    store = store_with_aoi(tmp_path, settings)
    result = run(store, settings)
    assert "4 fetched" in result.message and "rejected 0" in result.message
    for path, day in zip(*[store.read("scenes").sort_values("acquired")[c] for c in ("path", "acquired")], strict=True):
        np.testing.assert_array_equal(aoi_window_of(Path(path))[2], expected_window(day.date()))
    assert fake.hits.counts["redirect"] > 0 and fake.hits.counts["cog"] == 2 * fake.hits.counts["redirect"]
    assert set(connections) == {fake_address(fake)}
