"""Offline assets: every JS/CSS file the map page loads comes from the app's static folder.

folium's elements name their assets as ``(name, CDN URL)`` pairs in ``default_js`` and
``default_css``. :func:`localise_assets` walks the element tree before rendering and swaps
each pair for a local URL through :data:`LOCAL_ASSETS`, an explicit name -> file mapping.
An asset that is neither mapped nor listed in :data:`UNUSED_ASSETS` raises
:class:`UnmappedAssetError`, so a folium upgrade or a new plugin cannot quietly bring a CDN
back. The vendored files are installed from npm at pinned versions (``package.json`` at the
repository root, ``npm run vendor``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urlsplit

from branca.element import Element, Figure

from config.errors import EcowatchError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LocalAsset:
    """A file under ``web/static/`` standing in for an upstream asset.

    ``pin`` must occur in the upstream URL (e.g. ``leaflet@1.9.3/``), so an element that asks
    for another version than the vendored one is refused; ``None`` for ecowatch's own files.
    """

    path: str
    pin: str | None = None


LOCAL_ASSETS: dict[str, LocalAsset] = {
    "leaflet": LocalAsset("vendor/leaflet/leaflet.js", pin="leaflet@1.9.3/"),
    "leaflet_css": LocalAsset("vendor/leaflet/leaflet.css", pin="leaflet@1.9.3/"),
    # Leaflet.markercluster: named by our own elements (web/map_elements.py) with the vendored path
    "leaflet_markercluster_js": LocalAsset("vendor/leaflet.markercluster/leaflet.markercluster.js"),
    "leaflet_markercluster_css": LocalAsset("vendor/leaflet.markercluster/MarkerCluster.css"),
    "ecowatch_dom_js": LocalAsset("ecowatch-dom.js"),
    "ecowatch_points_js": LocalAsset("ecowatch-points.js"),
    "ecowatch_state_js": LocalAsset("ecowatch-state.js"),
    "ecowatch_coords_js": LocalAsset("ecowatch-coords.js"),
    "ecowatch_imagery_js": LocalAsset("ecowatch-imagery.js"),
    "ecowatch_print_js": LocalAsset("ecowatch-print.js"),
    "ecowatch_js": LocalAsset("ecowatch.js"),
    "ecowatch_css": LocalAsset("ecowatch.css"),
}

# folium.Map's defaults that the page does not use: they serve folium's Icon/Marker
# (awesome-markers, Font Awesome, glyphicons, Bootstrap) and keep_in_front (jQuery).
# ecowatch draws points as circle markers and builds its own controls, so they are dropped.
UNUSED_ASSETS: frozenset[str] = frozenset(
    {
        "jquery",
        "bootstrap",
        "bootstrap_css",
        "awesome_markers",
        "awesome_markers_css",
        "awesome_markers_font_css",
        "awesome_rotate_css",
        "glyphicons_css",
    }
)


class UnmappedAssetError(EcowatchError, LookupError):
    """An element of the page asks for a JS/CSS asset that has no local copy."""

    def __init__(self, element: str, name: str, url: str, reason: str) -> None:
        self.element, self.name, self.url = element, name, url
        super().__init__(
            f"{element} needs asset {name!r} ({url}): {reason}; vendor it with npm "
            "(package.json, `npm run vendor`) and map it in web.assets.LOCAL_ASSETS"
        )


def _walk(element: Element) -> Iterator[Element]:
    """``element`` and everything below it, including a figure's header, html and script parts."""
    yield element
    parts = [getattr(element, p, None) for p in ("header", "html", "script")] if isinstance(element, Figure) else []
    for child in [p for p in parts if isinstance(p, Element)] + list(element._children.values()):
        yield from _walk(child)


def _localise(element: Element, pairs: list[tuple[str, str]], static_url: Callable[[str], str]) -> list[tuple[str, str]]:
    local: list[tuple[str, str]] = []
    for name, url in pairs:
        if name in UNUSED_ASSETS:
            continue
        asset = LOCAL_ASSETS.get(name)
        if asset is None:
            raise UnmappedAssetError(type(element).__name__, name, url, "no local copy")
        if asset.pin is not None and asset.pin not in url:
            raise UnmappedAssetError(type(element).__name__, name, url, f"the vendored copy is {asset.pin!r}")
        local.append((name, static_url(asset.path)))
    return local


def localise_assets(root: Element, static_url: Callable[[str], str]) -> list[str]:
    """Point every element's ``default_js``/``default_css`` under ``root`` at local files.

    Call it on the figure just before rendering. Lists are replaced on each instance, never
    mutated in place (folium keeps them as class attributes shared by every map).

    Parameters
    ----------
    root
        The figure (or any element) whose tree is walked.
    static_url
        Turns a path under the static folder into its URL, e.g.
        ``lambda p: url_for("static", filename=p)``.

    Returns
    -------
    list of str
        The local URLs now referenced, in tree order.

    Raises
    ------
    UnmappedAssetError
        When an asset is neither in :data:`LOCAL_ASSETS` nor in :data:`UNUSED_ASSETS`, or asks
        for a version other than the vendored one.
    """
    used: list[str] = []
    for element in _walk(root):
        for attr in ("default_js", "default_css"):
            pairs = getattr(element, attr, None)
            if pairs is None:
                continue
            local = _localise(element, list(pairs), static_url)
            setattr(element, attr, local)
            used += [url for _, url in local]
    return used


class _ReferenceCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.references: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.references += [value for key, value in attrs if key in ("src", "href") and value is not None]


def external_references(html: str) -> list[str]:
    """The ``src``/``href`` attribute values in ``html`` that point outside the serving app.

    A reference is local when it has neither a scheme nor a host (``/static/x.js``, ``#top``).
    """
    collector = _ReferenceCollector()
    collector.feed(html)
    collector.close()
    external = []
    for ref in collector.references:
        parts = urlsplit(ref.strip())
        if parts.scheme or parts.netloc or ref.strip().startswith("//"):
            external.append(ref)
    return external


class ExternalReferenceError(EcowatchError, ValueError):
    """A rendered page references a file on another host."""


def assert_offline(html: str) -> None:
    """Raise :class:`ExternalReferenceError` when ``html`` has a ``src``/``href`` to another host."""
    external = external_references(html)
    if external:
        raise ExternalReferenceError(f"the page would load {len(external)} file(s) from other hosts: {external[:5]}")
