"""The folium shell of the map page: an empty map, one API-backed overlay per layer, controls.

:func:`build_map` takes what the view gathered (settings, layer specs, the initial bounds)
and touches neither the store nor Flask; the view localises the assets and renders it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import folium
from branca.element import Element
from folium.utilities import JsCode
from markupsafe import escape

from config import Settings
from web.map_elements import ApiFeatureLayer, MapControls, synthetic_banner

logger = logging.getLogger(__name__)

BBox = tuple[float, float, float, float]

MAX_ZOOM = 18
MIN_ZOOM = 2
FIT_MAX_ZOOM = 14  # a single point or a tiny AOI should not open at street level
PAGE_TITLE = "ecowatch map"
EMPTY_NOTE = "The store holds no features yet: run `ecowatch demo` or an `ecowatch ingest` command."


def build_map(
    settings: Settings,
    specs: Sequence[dict[str, Any]],
    bounds: BBox | None,
    features_url: Callable[[str], str],
    *,
    synthetic: Sequence[str] = (),
    icon_url: str | None = None,
    options: dict[str, Any] | None = None,
) -> folium.Map:
    """The map page as a folium ``Map`` (its figure is the page).

    Parameters
    ----------
    settings
        ``tile_url`` / ``tile_attribution`` add an optional basemap; without one the countries
        layer serves as the base.
    specs
        Layer specs (:func:`web.layer_specs.layer_spec`), bottom of the stack first.
    bounds
        ``(west, south, east, north)`` in degrees to open on, or ``None`` (empty store).
    features_url
        Gives the features endpoint URL of a layer name.
    synthetic
        Titles of the store's layers whose data are synthetic (on the map or not, e.g. the
        imagery scenes); when there are any, a note says so across the top of the page.
    icon_url
        URL of the page's icon (served by the app, so the browser does not ask for
        ``/favicon.ico``).
    options
        What the page's controls need besides the specs (:class:`web.map_elements.MapControls`).
    """
    fmap = folium.Map(location=None, tiles=None, control_scale=True, zoom_start=MIN_ZOOM)
    # Map(max_zoom=...) only reaches a tile layer it creates; with tiles=None the Leaflet map
    # itself needs maxZoom (see NOTES.md, "folium offline").
    fmap.options.update(max_zoom=MAX_ZOOM, min_zoom=MIN_ZOOM)
    figure = fmap.get_root()
    figure.title = PAGE_TITLE  # type: ignore[attr-defined]
    if icon_url:
        icon = Element(f'<link rel="icon" type="image/svg+xml" href="{escape(icon_url)}"/>')
        figure.header.add_child(icon, name="ew_icon")  # type: ignore[attr-defined]
    if settings.tile_url:
        folium.TileLayer(
            tiles=settings.tile_url,
            attr=settings.tile_attribution or "Basemap tiles (no attribution configured)",
            name="Basemap",
            max_zoom=MAX_ZOOM,
            overlay=False,
            control=True,
        ).add_to(fmap)
    if bounds is not None:
        west, south, east, north = bounds
        # Before the layers: they fetch for the view they find when added to the map.
        fmap.fit_bounds([[south, west], [north, east]], padding=(16, 16), max_zoom=FIT_MAX_ZOOM)
    for order, spec in enumerate(specs):
        ApiFeatureLayer(spec, features_url(str(spec["name"])), order).add_to(fmap)
    # Listed top of the stack first, like the legend (ecowatch.layerOrder compares spec.order).
    # folium renders JsCode options as code; its type hints just do not say so.
    sort_function: Any = JsCode("ecowatch.layerOrder")
    folium.LayerControl(position="topright", collapsed=False, sortLayers=True, sortFunction=sort_function).add_to(fmap)
    MapControls(specs, options).add_to(fmap)
    if synthetic:
        figure.html.add_child(synthetic_banner(synthetic), name="ew_synthetic_note")  # type: ignore[attr-defined]
    if bounds is None:
        note = Element(f'<div class="ew-banner ew-banner-empty" role="note">{EMPTY_NOTE}</div>')
        figure.html.add_child(note, name="ew_empty_note")  # type: ignore[attr-defined]
    return fmap
