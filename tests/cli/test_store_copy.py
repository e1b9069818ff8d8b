"""``ecowatch store copy`` (the demo store into another store, PostGIS or a GeoPackage, and back, checked) and ``store migrate``."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from cli.main import cli
from layers import open_store
from layers.catalog import CATALOG
from layers.store_copy import layer_checksum

pytestmark = pytest.mark.backend


def _copy(source: str, target: str) -> list[str]:
    result = CliRunner().invoke(cli, ["store", "copy", "--store", source, "--to", target])
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def _checksums(lines: list[str]) -> dict[str, tuple[int, str]]:
    rows = (re.match(r"^(\w+)\s+(\d+)\s+(\d+)\s+([0-9a-f]{64})$", line) for line in lines)
    return {m[1]: (int(m[2]), m[4]) for m in rows if m and m[2] == m[3]}


def test_copy_there_and_back_keeps_every_row(demo_store: Path, store_url: str, tmp_path: Path) -> None:
    there = _copy(str(demo_store), store_url)
    sums = _checksums(there)
    assert set(sums) == set(CATALOG), there  # every layer printed, counts equal
    assert sums["clearings"][0] > 0 and sums["seizures"][0] > 0 and sums["hotspot_cells"][0] > 0
    assert "every checksum matches" in there[-1]

    back = tmp_path / "back.gpkg"
    assert _checksums(_copy(store_url, str(back))) == sums  # the same checksums on the way back

    with open_store(demo_store, readonly=True) as a, open_store(back, readonly=True) as b, open_store(store_url, readonly=True) as c:
        for layer in ("clearings", "seizures", "reviews", "ingest_runs", "corridors"):
            key = list(CATALOG[layer].key)
            pd.testing.assert_frame_equal(a.read(layer, order_by=key).reset_index(drop=True), b.read(layer, order_by=key).reset_index(drop=True))
        assert c.layer_info("clearings") == a.layer_info("clearings")
        assert c.read("clearings", where={"synthetic": True}, columns=["clearing_id"]).shape == a.read("clearings", where={"synthetic": True}, columns=["clearing_id"]).shape


def test_copy_refuses_a_store_with_rows_and_checksums_see_one_change(demo_store: Path, store_url: str) -> None:
    _copy(str(demo_store), store_url)
    result = CliRunner().invoke(cli, ["store", "copy", "--store", str(demo_store), "--to", store_url])
    assert result.exit_code == 1 and "copy into an empty store" in result.output and "clearings (" in result.output
    with open_store(store_url) as store:
        before = layer_checksum(store, "clearings")
        first = store.read("clearings", limit=1)
        moved = first.assign(geometry=shapely.affinity.translate(first.geometry.iloc[0], 1e-9, 0))
        assert store.upsert("clearings", moved).updated == 1
        after = layer_checksum(store, "clearings")
        assert after[0] == before[0] and after[1] != before[1]


def test_store_migrate_creates_then_finds_it_up_to_date(store_url: str) -> None:
    """On PostGIS the database exists and migrate creates the tables; a GeoPackage file must exist first."""
    if not store_url.startswith("postgresql://"):
        missing = CliRunner().invoke(cli, ["store", "migrate", "--store", store_url])
        assert missing.exit_code == 1 and "no such store" in missing.output
        with open_store(store_url):
            pass
        assert CliRunner().invoke(cli, ["store", "migrate", "--store", store_url]).output.strip().endswith("up to date")
        return
    first = CliRunner().invoke(cli, ["store", "migrate", "--store", store_url])
    assert first.exit_code == 0 and first.output.strip().endswith("created: migrated"), first.output
    again = CliRunner().invoke(cli, ["store", "migrate", "--store", store_url])
    assert again.exit_code == 0 and again.output.strip().endswith("up to date"), again.output
    assert "password" not in again.output
