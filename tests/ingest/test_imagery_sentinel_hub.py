"""The ``sentinelhub`` provider: the real ``sentinelhub`` client against a fake deployment on 127.0.0.1.

The fake (tests/ingest/fake_sentinel_hub.py) serves the OAuth token endpoint, the Catalog and the
Process API over HTTPS with a throw-away CA (``REQUESTS_CA_BUNDLE`` is set for the test only);
``XDG_CONFIG_HOME`` points into the test's folder, and the package's class-level session cache
is cleared around every test.
"""

from __future__ import annotations

import datetime as dt
import logging
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from sentinelhub import SentinelHubDownloadClient

from cli.main import cli
from config import Settings, load_settings
from ingest.imagery.cache import ImageryCache
from ingest.imagery.cog import BANDS
from ingest.imagery.errors import CredentialsError, ProviderError
from ingest.imagery.providers import make_provider
from ingest.imagery.sentinel_hub import collection
from jobs.aoi import aoi_geometry
from jobs.ingest_imagery import ingest_imagery
from jobs.runs import Run
from layers.store import Store
from tests.ingest.fake_sentinel_hub import CLIENT_ID, CLIENT_SECRET, FakeSentinelHub, error_response
from tests.ingest.fake_servers import make_ca, serve
from tests.ingest.reference_scenes import (
    AOI_NAME,
    aoi_window_of,
    expected_window,
    reference,
    store_with_aoi,
)

DAYS = (dt.date(2023, 9, 1), dt.date(2023, 9, 21))  # two clear acquisitions: 2023-09-01 and 2023-09-21


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeSentinelHub, str]]:
    """The fake deployment, served over HTTPS; the client trusts its CA for this test only."""
    ca = make_ca(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca.bundle))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    for name in ("SH_CLIENT_ID", "SH_CLIENT_SECRET", "SH_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    SentinelHubDownloadClient.clear_cache()
    server = FakeSentinelHub(reference())
    with serve(server, ca.server_context) as url:
        yield server, url
    SentinelHubDownloadClient.clear_cache()


def sh_settings(tmp_path: Path, url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data", "sentinelhub_base_url": url, "sentinelhub_token_url": f"{url}/oauth/token",
        "sentinelhub_client_id": CLIENT_ID, "sentinelhub_client_secret": CLIENT_SECRET, "imagery_retry_s": 0.01,
    }
    return load_settings({}, **(values | overrides))


def run(store: Store, settings: Settings, days: tuple[dt.date, dt.date] = DAYS, **kwargs: Any) -> Run:
    return ingest_imagery(store, settings, provider="sentinelhub", aoi=AOI_NAME, date_from=days[0], date_to=days[1], **kwargs)


def scenes(store: Store) -> list[tuple[str, str]]:
    frame = store.read("scenes")
    return sorted(zip(frame["scene_id"], frame["path"], strict=True))


def test_collection_follows_the_configured_base_url():
    assert collection().service_url is None
    assert collection().api_id == "sentinel-2-l2a"


def test_fetch_registers_cogs_of_the_reference_and_a_rerun_makes_no_data_request(tmp_path, fake):
    server, url = fake
    settings = sh_settings(tmp_path, url)
    store = store_with_aoi(tmp_path, settings)
    first = run(store, settings)
    assert first.message.startswith("3 scene(s) for ref-aoi: 3 new") and "3 fetched, 0 from the cache" in first.message
    assert server.hits.counts["process"] == 3 and server.hits.counts["token"] == 1
    rows = store.read("scenes").sort_values("acquired")
    assert list(rows["provider"]) == ["sentinelhub"] * 3
    for day, path in zip(rows["acquired"].dt.date, rows["path"], strict=True):
        assert Path(path).is_relative_to(tmp_path / "data" / "imagery" / "sentinelhub" / AOI_NAME)
        with rasterio.open(path) as ds:
            assert ds.descriptions == BANDS and ds.dtypes == ("uint16",) * 8 and ds.tags()["TIFFTAG_DATETIME"].startswith(f"{day:%Y:%m:%d}")
            assert ds.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        crs, transform, data = aoi_window_of(Path(path))
        assert crs == "EPSG:32648" and transform[2:6:3] == (760_200.0, 1_507_480.0)
        np.testing.assert_array_equal(data, expected_window(day))
    before = server.hits.counts.copy()
    again = run(store, settings)
    assert "0 fetched, 3 from the cache" in again.message and "0 new, 0 updated, 3 unchanged" in again.message
    assert server.hits.counts["process"] == before["process"]  # zero data requests
    assert server.hits.counts["catalog"] == before["catalog"] + 1
    refreshed = run(store, settings, refresh=True)
    assert "3 fetched, 0 from the cache" in refreshed.message
    assert server.hits.counts["process"] == before["process"] + 3


def test_tiles_mosaic_equals_a_single_render_pixel_for_pixel(tmp_path, fake):
    server, url = fake
    day = (dt.date(2023, 10, 1), dt.date(2023, 10, 1))
    whole = sh_settings(tmp_path / "one", url)
    run(store_with_aoi(tmp_path, whole, "one.gpkg"), whole, day)
    assert [e["size"] for e in server.process_log] == [(220, 206)]
    tiled = sh_settings(tmp_path / "tiles", url, sentinelhub_max_px=64, sentinelhub_threads=3)
    store = store_with_aoi(tmp_path, tiled, "tiles.gpkg")
    run(store, tiled, day)
    tiles = server.process_log[1:]
    assert len(tiles) == 16 and max(max(e["size"]) for e in tiles) <= 64  # 220 x 206 px in 4 x 4 tiles
    assert sum(w * h for w, h in (e["size"] for e in tiles)) == 220 * 206
    single = next((tmp_path / "one").rglob("*.tif"))
    mosaic = next((tmp_path / "tiles").rglob("*.tif"))
    with rasterio.open(single) as a, rasterio.open(mosaic) as b:
        assert (a.crs, a.transform, a.shape) == (b.crs, b.transform, b.shape)
        np.testing.assert_array_equal(a.read(), b.read())


def test_429_and_5xx_are_retried_then_the_run_succeeds(tmp_path, fake, caplog):
    server, url = fake
    settings = sh_settings(tmp_path, url)
    store = store_with_aoi(tmp_path, settings)
    server.fail["process"].extend([429, 503, 429])  # 429: wait as asked (Retry-After, ms); 5xx: backoff
    with caplog.at_level(logging.WARNING, logger="ingest.imagery.sentinel_hub"):
        result = run(store, settings, (dt.date(2023, 9, 1), dt.date(2023, 9, 1)))
    assert "1 fetched" in result.message and len(store.read("scenes")) == 1
    assert server.hits.counts["process"] == 4
    assert "429 Too Many Requests 2 time(s)" in caplog.text


def test_500_three_times_fails_clearly_and_leaves_the_store_unchanged(tmp_path, fake):
    server, url = fake
    settings = sh_settings(tmp_path, url)
    store = store_with_aoi(tmp_path, settings)
    run(store, settings, (dt.date(2023, 9, 1), dt.date(2023, 9, 1)))
    before = scenes(store)
    server.fail["process"].extend([500, 500, 500])
    env = {f"ECOWATCH_{k.upper()}": str(v) for k, v in {
        "data_dir": tmp_path / "data", "sentinelhub_base_url": url, "sentinelhub_token_url": f"{url}/oauth/token",
        "sentinelhub_client_id": CLIENT_ID, "sentinelhub_client_secret": CLIENT_SECRET, "imagery_retry_s": 0.01,
    }.items()}
    result = CliRunner().invoke(cli, [
        "ingest", "imagery", "--provider", "sentinelhub", "--aoi", AOI_NAME, "--from", "2023-09-01", "--to", "2023-09-21",
        "--store", str(tmp_path / "store.gpkg"),
    ], env=env)
    assert result.exit_code == 1, result.output
    assert f"Error: {url}: Process API (2023-09-11) failed after 3 attempt(s): HTTP 500" in result.output
    assert server.hits.counts["process"] == 1 + 3
    assert scenes(store) == before
    assert not list((tmp_path / "data" / "imagery").rglob("*20230911*")) and not list((tmp_path / "data").rglob("*.part"))
    runs = store.read("ingest_runs").sort_values("started")
    assert list(runs["status"])[-1] == "failed"


def test_an_expired_token_is_refreshed(tmp_path, fake, monkeypatch):
    server, url = fake
    settings = sh_settings(tmp_path, url)
    store = store_with_aoi(tmp_path, settings)
    # the package (its session) and oauthlib (the token's expiry) read the time through their
    # modules' `time`: give them the server's clock, which jumps an hour — the token's whole
    # life — after the catalogue search, as if the run had been going on that long
    import oauthlib.oauth2.rfc6749.parameters as oauth_parameters
    import sentinelhub.download.session as session

    clock = types.SimpleNamespace(time=server.clock.time, sleep=server.clock.sleep, monotonic=server.clock.monotonic)
    monkeypatch.setattr(session, "time", clock)
    monkeypatch.setattr(oauth_parameters, "time", clock)
    server.advance_after_catalog = 3600
    result = run(store, settings)
    assert "3 fetched" in result.message
    assert server.hits.counts["token"] == 2 and server.hits.counts["unauthorised"] == 0
    first_token = next(iter(server.tokens))
    assert all(entry["token"] != first_token for entry in server.process_log)


def test_missing_credentials_fail_before_any_request(tmp_path, fake):
    server, url = fake
    settings = sh_settings(tmp_path, url, sentinelhub_client_secret="")
    store = store_with_aoi(tmp_path, settings)
    with pytest.raises(CredentialsError, match="no credentials: set ECOWATCH_SENTINELHUB_CLIENT_ID and ECOWATCH_SENTINELHUB_CLIENT_SECRET"):
        run(store, settings)
    assert sum(server.hits.counts.values()) == 0


def test_wrong_credentials_are_named_and_no_secret_is_ever_logged(tmp_path, fake, caplog):
    server, url = fake
    wrong = "wrong-secret-1234"
    settings = sh_settings(tmp_path, url, sentinelhub_client_secret=wrong)
    store = store_with_aoi(tmp_path, settings)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(CredentialsError) as info:
        run(store, settings)
    assert "the token endpoint refused the credentials (invalid_client)" in str(info.value)
    good = sh_settings(tmp_path, url)
    run(store, good, (dt.date(2023, 9, 1), dt.date(2023, 9, 1)))
    token = next(iter(server.tokens))
    stored = store.read("ingest_runs").to_string()
    for secret in (wrong, CLIENT_SECRET, token):
        assert secret not in caplog.text and secret not in str(info.value) and secret not in stored
    assert CLIENT_SECRET not in repr(good) and CLIENT_SECRET not in str(good.model_dump())


def test_an_interrupted_download_leaves_nothing_the_next_run_would_use(tmp_path, fake):
    server, url = fake
    settings = sh_settings(tmp_path, url, sentinelhub_max_px=110, sentinelhub_threads=1)  # 2 x 2 tiles, one at a time
    store = store_with_aoi(tmp_path, settings)
    day = (dt.date(2023, 9, 1), dt.date(2023, 9, 1))
    # what a killed run leaves: a temporary file beside the COG it was writing
    provider = make_provider("sentinelhub", settings)
    aoi = aoi_geometry(store, AOI_NAME)
    found = provider.search(aoi, *day, 100.0)
    final = ImageryCache.from_settings(settings).path_for("sentinelhub", AOI_NAME, found.acquisitions[0], provider.grid(aoi, found), provider.source())
    final.parent.mkdir(parents=True)
    final.with_name(f".{final.name}.999999999-dead.tif.part").write_bytes(b"II*\0 half a file")
    calls = {"n": 0}
    render = server.process

    def second_tile_fails(request):
        calls["n"] += 1
        return error_response(500, "the connection broke") if calls["n"] in (2, 3, 4) else render(request)

    server.process = second_tile_fails
    with pytest.raises(ProviderError, match="failed after 3 attempt"):
        run(store, settings, day)
    assert list(final.parent.iterdir()) == []  # no COG, no temporary file; the dead run's one cleared
    assert store.read("scenes").empty
    result = run(store, settings, day)
    assert "1 fetched" in result.message and calls["n"] == 4 + 4
    (path,) = store.read("scenes")["path"]
    assert Path(path) == final and list(final.parent.iterdir()) == [final]
    np.testing.assert_array_equal(aoi_window_of(final)[2], expected_window(day[0]))
