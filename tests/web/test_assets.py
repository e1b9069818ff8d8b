"""Offline assets: the name -> local file mapping, the pins and the vendored files."""

from __future__ import annotations

import json
from pathlib import Path

import folium
import pytest
from folium.elements import JSCSSMixin

import web
from web.assets import (
    LOCAL_ASSETS,
    UNUSED_ASSETS,
    ExternalReferenceError,
    UnmappedAssetError,
    assert_offline,
    external_references,
    localise_assets,
)

REPO = Path(__file__).resolve().parents[2]
STATIC = Path(web.__file__).resolve().parent / "static"


def _static(path: str) -> str:
    return "/static/" + path


def test_every_mapped_asset_exists() -> None:
    for name, asset in LOCAL_ASSETS.items():
        assert (STATIC / asset.path).is_file(), f"{name}: {asset.path} missing from web/static"


def test_vendored_leaflet_matches_the_npm_pin() -> None:
    package = json.loads((REPO / "package.json").read_text())
    lock = json.loads((REPO / "package-lock.json").read_text())
    pinned = package["dependencies"]["leaflet"]
    assert pinned[0].isdigit(), "pin exact versions (npm install --save-exact)"
    assert lock["packages"]["node_modules/leaflet"]["version"] == pinned
    vendored = json.loads((STATIC / "vendor/leaflet/package.json").read_text())
    assert vendored["version"] == pinned
    assert f"Leaflet {pinned}," in (STATIC / "vendor/leaflet/leaflet.js").read_text()[:200]
    assert (STATIC / "vendor/leaflet/LICENSE").is_file()
    assert all(f"leaflet@{pinned}/" == a.pin for a in LOCAL_ASSETS.values() if a.pin and "leaflet" in a.pin)


def test_vendored_markercluster_matches_the_npm_pin() -> None:
    package = json.loads((REPO / "package.json").read_text())
    lock = json.loads((REPO / "package-lock.json").read_text())
    pinned = package["dependencies"]["leaflet.markercluster"]
    assert pinned[0].isdigit(), "pin exact versions (npm install --save-exact)"
    assert lock["packages"]["node_modules/leaflet.markercluster"]["version"] == pinned
    folder = STATIC / "vendor/leaflet.markercluster"
    assert json.loads((folder / "package.json").read_text())["version"] == pinned
    assert "Permission is hereby granted, free of charge" in (folder / "MIT-LICENCE.txt").read_text()  # MIT
    assert "L.MarkerClusterGroup" in (folder / "leaflet.markercluster.js").read_text()
    for name in ("leaflet_markercluster_js", "leaflet_markercluster_css"):
        assert LOCAL_ASSETS[name].path.startswith("vendor/leaflet.markercluster/")


def test_leaflet_css_images_are_vendored() -> None:
    css = (STATIC / "vendor/leaflet/leaflet.css").read_text()
    for image in ("layers.png", "layers-2x.png", "marker-icon.png"):
        assert f"images/{image}" in css
        assert (STATIC / "vendor/leaflet/images" / image).is_file()


def test_folium_map_defaults_are_all_accounted_for() -> None:
    fmap = folium.Map(tiles=None)
    used = localise_assets(fmap.get_root(), _static)
    assert used == ["/static/vendor/leaflet/leaflet.js", "/static/vendor/leaflet/leaflet.css"]
    html = fmap.get_root().render()
    assert external_references(html) == []


def test_class_lists_are_not_mutated() -> None:
    before = list(folium.Map.default_js)
    localise_assets(folium.Map(tiles=None).get_root(), _static)
    assert folium.Map.default_js == before
    assert any("//" in url for _, url in folium.Map.default_js)


class _Plugin(JSCSSMixin):
    default_js = [("some_plugin", "https://cdn.example.org/some-plugin@1.0/plugin.js")]


class _OtherLeaflet(JSCSSMixin):
    default_js = [("leaflet", "https://cdn.example.org/npm/leaflet@1.7.1/dist/leaflet.js")]


@pytest.mark.parametrize(("element", "message"), [(_Plugin, "no local copy"), (_OtherLeaflet, "vendored copy is")])
def test_an_unmapped_or_other_version_asset_raises(element: type[JSCSSMixin], message: str) -> None:
    fmap = folium.Map(tiles=None)
    element().add_to(fmap)
    with pytest.raises(UnmappedAssetError, match=message):
        localise_assets(fmap.get_root(), _static)


def test_unused_assets_are_not_mapped() -> None:
    assert not UNUSED_ASSETS & set(LOCAL_ASSETS)


@pytest.mark.parametrize(
    ("html", "external"),
    [
        ('<script src="/static/a.js"></script><a href="#x">x</a>', []),
        ('<link href="https://cdn.example.org/a.css">', ["https://cdn.example.org/a.css"]),
        ("<img src='//cdn.example.org/a.png'>", ["//cdn.example.org/a.png"]),
        ('<script src="HTTP://EXAMPLE.ORG/a.js"></script>', ["HTTP://EXAMPLE.ORG/a.js"]),
        ('<script>var s = "<a href=\\"https://example.org\\">";</script>', []),
    ],
)
def test_external_references(html: str, external: list[str]) -> None:
    assert external_references(html) == external


def test_assert_offline_raises() -> None:
    assert_offline('<script src="/static/a.js"></script>')
    with pytest.raises(ExternalReferenceError, match="1 file"):
        assert_offline('<script src="https://example.org/a.js"></script>')
