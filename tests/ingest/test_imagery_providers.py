"""All three providers, through the command line, on the same AOI and period: the same grid, the
same pixels, and detection runs on each (and finds the same clearings)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from click.testing import CliRunner
from sentinelhub import SentinelHubDownloadClient

from cli.main import cli
from jobs.ingest_imagery import ingest_imagery
from layers.store import open_store
from tests.ingest.fake_sentinel_hub import CLIENT_ID, CLIENT_SECRET, FakeSentinelHub
from tests.ingest.fake_servers import make_ca, serve
from tests.ingest.fake_stac import FakeStac, write_assets
from tests.ingest.reference_scenes import (
    AOI_NAME,
    BASELINE,
    MONITOR,
    aoi_file,
    aoi_window_of,
    reference,
    write_local,
)

PROVIDERS = ("local", "stac", "sentinelhub")


@pytest.fixture
def servers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The fake Sentinel Hub (HTTPS) and STAC API, and the ECOWATCH_* environment that points at them."""
    ref = reference()
    ca = make_ca(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca.bundle))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    SentinelHubDownloadClient.clear_cache()
    write_assets(ref, tmp_path / "cogs", ref.dates)
    stac = FakeStac(ref, tmp_path / "cogs", ref.dates)
    with serve(FakeSentinelHub(ref), ca.server_context) as sh_url, serve(stac) as stac_url:
        stac.base = stac_url
        yield {
            "ECOWATCH_SENTINELHUB_BASE_URL": sh_url, "ECOWATCH_SENTINELHUB_TOKEN_URL": f"{sh_url}/oauth/token",
            "ECOWATCH_SENTINELHUB_CLIENT_ID": CLIENT_ID, "ECOWATCH_SENTINELHUB_CLIENT_SECRET": CLIENT_SECRET,
            "ECOWATCH_STAC_URL": stac_url, "ECOWATCH_STAC_ASSET_SCHEMES": "http",
            "ECOWATCH_STAC_ASSET_HOSTS": stac_url.removeprefix("http://"), "ECOWATCH_IMAGERY_RETRY_S": "0.01",
        }
    SentinelHubDownloadClient.clear_cache()


def ecowatch(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_every_provider_gives_the_same_grid_and_pixels_and_detection_runs_on_them(tmp_path, servers):
    ref = reference()
    local = write_local(ref, tmp_path / "local")
    period = ["--from", BASELINE[0].isoformat(), "--to", MONITOR[1].isoformat()]
    windows: dict[str, dict[dt.date, tuple]] = {}
    clearings: dict[str, list[str]] = {}
    for provider in PROVIDERS:
        store = tmp_path / f"{provider}.gpkg"
        env = servers | {"ECOWATCH_DATA_DIR": str(tmp_path / "data")}
        ecowatch(env, "ingest", "boundaries", "aoi", str(aoi_file(tmp_path)), "--store", str(store))
        path = ["--path", str(local[0].parent)] if provider == "local" else []
        out = ecowatch(env, "ingest", "imagery", "--provider", provider, *path, "--aoi", AOI_NAME, *period, "--store", str(store))
        assert f"ingest imagery --provider {provider} --aoi {AOI_NAME}: {len(ref.dates)} scene(s) for {AOI_NAME}: {len(ref.dates)} new" in out
        with open_store(store) as st:
            rows = st.read("scenes").sort_values("acquired")
        assert set(rows["provider"]) == {provider}
        windows[provider] = {day.date(): aoi_window_of(Path(p)) for day, p in zip(rows["acquired"], rows["path"], strict=True)}
        ecowatch(env, "detect", "--aoi", AOI_NAME, "--baseline", f"{BASELINE[0]}/{BASELINE[1]}",
                 "--monitor", f"{MONITOR[0]}/{MONITOR[1]}", "--store", str(store))
        with open_store(store) as st:
            found = gpd.GeoDataFrame(st.read("clearings", where={"aoi": AOI_NAME}))
        clearings[provider] = sorted(g.wkt for g in found.geometry.normalize())
    for provider in ("stac", "sentinelhub"):
        assert windows[provider].keys() == windows["local"].keys()
        for day, (crs, transform, data) in windows[provider].items():
            local_crs, local_transform, local_data = windows["local"][day]
            assert (crs, transform) == (local_crs, local_transform), (provider, day)
            np.testing.assert_array_equal(data, local_data, err_msg=f"{provider} {day}")
        assert clearings[provider] == clearings["local"]
    assert clearings["local"], "the reference series has clearings that detection should find"


def test_the_job_reports_progress_for_every_acquisition(tmp_path, settings):
    ref = reference()
    days = ref.dates[:3]
    write_local(ref, tmp_path / "local", days)
    store = open_store(tmp_path / "s.gpkg")
    ecowatch({}, "ingest", "boundaries", "aoi", str(aoi_file(tmp_path)), "--store", str(tmp_path / "s.gpkg"))
    seen: list[tuple[int, int, str]] = []
    run = ingest_imagery(store, settings, provider="local", path=tmp_path / "local", aoi=AOI_NAME,
                         date_from=days[0], date_to=days[-1], progress=lambda *a: seen.append(a))
    assert [(d, t) for d, t, _ in seen] == [(1, 3), (2, 3), (3, 3)]
    assert seen[0][2] == f"{days[0]} in place"
    assert "3 used in place" in run.message


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--provider", "stac", "--path", "scenes"], "--path is for --provider local"),
        (["--provider", "planet"], "'planet' is not one of 'sentinelhub', 'stac', 'local'"),
        (["--provider", "sentinelhub", "--max-cloud", "120"], "120"),
    ],
)
def test_usage_errors_exit_2(tmp_path, args, needle):
    result = CliRunner().invoke(cli, ["ingest", "imagery", *args, "--aoi", AOI_NAME, "--from", "2024-01-01", "--to", "2024-02-01",
                                      "--store", str(tmp_path / "s.gpkg")])
    assert result.exit_code == 2 and needle in result.output, result.output
