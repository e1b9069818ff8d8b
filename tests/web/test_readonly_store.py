"""A store on a read-only file system is still served and exported.

The store sits behind a read-only bind mount: SQLite cannot create the WAL's ``-shm`` file there
(nor can any other write succeed, root or not), so the reader must neither try to write nor fail
for want of it. (A non-root reader through ``runuser`` would be the other way to test this, but
the project's interpreter lives under ``/root`` here, where other users cannot run it.)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from config import Settings
from layers import open_store
from web import create_app

from .conftest import PASSWORDS, log_in

ECOWATCH = Path(sys.executable).parent / "ecowatch"


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


@pytest.fixture
def read_only_view() -> Iterator[tuple[Path, Path]]:
    """(a writable folder, the same folder through a read-only bind mount)."""
    if os.geteuid() != 0:
        message = "a read-only bind mount needs root"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    base = Path(tempfile.mkdtemp(prefix="ecowatch-ro-"))
    source, view = base / "rw", base / "ro"
    source.mkdir()
    view.mkdir()
    _mount("--bind", str(source), str(view))
    try:
        _mount("-o", "remount,ro,bind", str(view))
        yield source, view
    finally:
        subprocess.run(["umount", str(view)], check=False)
        shutil.rmtree(base)


def _export(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ECOWATCH), "export", "clearings", "--format", "geojson", "--store", str(store), *args],
        capture_output=True, text=True, check=False, timeout=300,
    )


def test_a_read_only_store_is_served_and_exported(map_store: Path, read_only_view: tuple[Path, Path], settings: Settings, tmp_path: Path):
    source, view = read_only_view
    shutil.copy(map_store, source / "map.gpkg")
    store = view / "map.gpkg"
    with pytest.raises(OSError):
        (view / "probe").write_text("x")  # the view is read-only indeed

    app = create_app(settings, store_url=str(store))
    client = app.test_client()
    # accounts are read from the store; the session lives in this process's side store
    assert log_in(client, "planner", PASSWORDS["planner"]).status_code == 303
    for _ in range(5):
        assert log_in(app.test_client(), "analyst", "a-wrong-password").status_code == 401
    assert log_in(app.test_client(), "analyst", PASSWORDS["analyst"]).status_code == 429  # throttled all the same
    layers = client.get("/api/layers")
    assert layers.status_code == 200
    assert {item["name"]: item["count"] for item in layers.get_json()["layers"]}["clearings"] == 3
    features = client.get("/api/layers/clearings/features?bbox=107.3,13.5,107.6,13.8")
    assert features.status_code == 200 and len(features.get_json()["features"]) == 2
    app.extensions["ecowatch"].close()

    out = tmp_path / "c.geojson"
    exported = _export(store, "-o", str(out))
    assert exported.returncode == 0 and "Traceback" not in exported.stderr, exported.stderr
    assert len(json.loads(out.read_text())["features"]) == 3
    assert sorted(p.name for p in source.iterdir()) == ["map.gpkg"]


def test_a_writer_elsewhere_is_seen_through_its_log(map_store: Path, read_only_view: tuple[Path, Path]):
    """While a writer holds the store open (its -wal and -shm exist), a reader on the read-only view reads the latest commit."""
    source, view = read_only_view
    shutil.copy(map_store, source / "map.gpkg")
    with open_store(source / "map.gpkg") as writer:
        first = writer.read("clearings")["clearing_id"].iloc[0]
        writer.delete("clearings", where={"clearing_id": [first]})  # committed, still in the WAL
        assert (source / "map.gpkg-wal").exists()
        exported = _export(view / "map.gpkg")
        assert exported.returncode == 0, exported.stderr
        ids = {f["properties"]["clearing_id"] for f in json.loads(exported.stdout)["features"]}
    assert len(ids) == 2 and first not in ids
