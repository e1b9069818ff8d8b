"""The map page (``GET /``): the folium shell, rendered per request, with no feature data in it.

The browser then fetches each layer's features for the visible bounds from :mod:`web.api`.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from branca.element import Element
from flask import Blueprint, Response, render_template, url_for

from layers import CATALOG, LAYERS, Store, get_layer
from layers.filters import COMMODITY_GROUPS, CONFIDENCES, FLAGS, MAP_FILTER_NAMES, REVIEW_STATUSES
from layers.redaction import ROLES, Access, may_read, read_redacted, source_layer
from web.access import current_role, roles_allowed
from web.api import MAP_LIMIT
from web.app_state import app_state
from web.assets import assert_offline, localise_assets
from web.imagery import IMAGERY_ROLES
from web.layer_specs import layer_spec, map_layers
from web.map_links import nav_links, report_link
from web.map_page import BBox, build_map
from web.security import page_policy

logger = logging.getLogger(__name__)

# The page opens on the first of these layers that has features, else on everything.
VIEW_LAYERS = ("aoi", "countries")

bp = Blueprint("map", __name__)


def _bounds(store: Store, layer: str, access: Access) -> BBox | None:
    frame = read_redacted(store, get_layer(layer), access, columns=[])
    if len(frame) == 0:
        return None
    west, south, east, north = (float(v) for v in frame.total_bounds)
    return (west, south, east, north) if all(map(math.isfinite, (west, south, east, north))) else None


def initial_bounds(store: Store, access: Access) -> BBox | None:
    """Where the page opens: the AOIs, else the countries, else every on-map layer as ``access`` sees it; ``None`` if empty."""
    for name in (n for n in VIEW_LAYERS if n in CATALOG and may_read(CATALOG[n], access.role)):
        found = _bounds(store, name, access)
        if found is not None:
            return found
    boxes = [b for b in (_bounds(store, lyr.name, access) for lyr in map_layers(access.role)) if b is not None]
    if not boxes:
        return None
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def page_options() -> dict[str, Any]:
    """The filter names and choices of :mod:`layers.filters` and the URLs the page's script calls."""
    return {
        "filters": list(MAP_FILTER_NAMES), "flags": list(FLAGS), "confidences": list(CONFIDENCES),
        "statuses": list(REVIEW_STATUSES), "commodities": list(COMMODITY_GROUPS),
        "search_url": url_for("map_search.find"),
        **imagery_options(),
    }


def imagery_options() -> dict[str, str]:
    """The imagery URLs, for the roles that may see imagery (none for the others)."""
    if current_role() not in IMAGERY_ROLES:
        return {}
    tile = url_for("imagery.tile", day="0000-00-00", z=0, x=0, y=0)
    return {"imagery_dates": url_for("imagery.dates"), "imagery_tiles": tile.rsplit("/0000-00-00/", 1)[0]}


@bp.get("/")
@roles_allowed(*ROLES)
def index() -> Response:
    """The map page: the layers the caller's role may see, and the account menu."""
    state = app_state()
    store = state.store()
    access = state.access(current_role())
    # each layer's metadata as this role reads it (hotspots: the generalised table's); none of a refused layer
    readable = [
        layer for layer in LAYERS
        if may_read(layer, access.role) and not (access.generalised and layer.refused_generalised)
    ]
    info = {layer.name: store.layer_info(source_layer(layer, access).name) for layer in readable}
    # the detail layers (drawn from a zoom on) are asked for at most MAP_LIMIT features a view, so an answer stays small
    specs = [
        {**layer_spec(layer, info[layer.name], access.role), "limit": MAP_LIMIT if layer.min_zoom else None,
         "report": report_link(layer, access.role)}
        for layer in map_layers(access.role)
    ]
    fmap = build_map(
        state.settings,
        specs,
        initial_bounds(store, access),
        lambda n: url_for("api.features", name=n),
        synthetic=[layer.title for layer in readable if info[layer.name].get("synthetic")],
        icon_url=url_for("static", filename="favicon.svg"),
        options=page_options(),
    )
    figure = fmap.get_root()
    menu = Element(
        '<div class="ew-account-float">' + render_template("map_nav.html", links=nav_links(access.role))
        + render_template("account_menu.html") + "</div>"
    )
    figure.html.add_child(menu, name="ew_account_menu")  # type: ignore[attr-defined]
    localise_assets(figure, lambda path: url_for("static", filename=path))
    html = figure.render()
    assert_offline(html)
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = page_policy(html, state.settings.tile_url)
    response.headers["Cache-Control"] = "no-store"
    return response
