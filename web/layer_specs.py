"""What the map and the API say about each layer, read from the layer catalogue.

Nothing here names a layer: titles, styles, popup fields and the draw order all follow from
the declarations in :mod:`layers.catalog`, so a new layer appears on the map by being declared.
"""

from __future__ import annotations

import logging
from typing import Any

from layers import LAYERS, Layer
from layers.redaction import Access, Role, may_read, visible_fields

logger = logging.getLogger(__name__)

_UNIT_SUFFIXES = {"_ha": "ha", "_km": "km", "_days": "days", "_pct": "%", "_deg": "degrees"}
_ACRONYMS = {"aoi": "AOI", "cites": "CITES", "iso": "ISO", "iucn": "IUCN", "nbr": "NBR", "ndvi": "NDVI"}


def is_outline_only(layer: Layer) -> bool:
    """True for a polygon layer drawn without fill (``fillOpacity`` 0), e.g. an AOI frame."""
    return layer.geometry_type == "MULTIPOLYGON" and float(str(layer.style.get("fillOpacity", 0.2))) == 0.0


def draw_rank(layer: Layer) -> int:
    """Where a layer sits in the stack: filled polygons, outline polygons, lines, then points.

    Outline-only polygons go above filled ones because they hide nothing (and are drawn
    without fill, so they do not catch clicks meant for what lies inside them).
    """
    if layer.geometry_type == "POINT":
        return 3
    if layer.geometry_type == "MULTILINESTRING":
        return 2
    return 1 if is_outline_only(layer) else 0


def map_layers(role: Role | None = None) -> tuple[Layer, ...]:
    """The catalogue's on-map spatial layers (those ``role`` may read, when given), bottom first
    (catalogue order within a rank)."""
    on_map = [
        lyr for lyr in LAYERS
        if lyr.on_map and lyr.geometry_type is not None and not lyr.internal and (role is None or may_read(lyr, role))
    ]
    return tuple(sorted(on_map, key=draw_rank))  # sorted() is stable: ties keep catalogue order


def get_map_layer(name: str, role: Role) -> Layer | None:
    """The on-map layer called ``name`` that ``role`` may read, or ``None`` when there is none."""
    return next((lyr for lyr in map_layers(role) if lyr.name == name), None)


def field_label(name: str) -> str:
    """A reader's label for a field name: ``area_ha`` -> ``Area (ha)``, ``first_detected`` -> ``First detected``."""
    unit = ""
    for suffix, text in _UNIT_SUFFIXES.items():
        if name.endswith(suffix) and len(name) > len(suffix):
            name, unit = name[: -len(suffix)], f" ({text})"
            break
    words = [_ACRONYMS.get(w, w) for w in name.split("_") if w]
    if not words:
        return name
    text = " ".join(words)
    return text[:1].upper() + text[1:] + unit


def layer_spec(layer: Layer, info: dict[str, Any], role: Role) -> dict[str, Any]:
    """The JSON-ready description of ``layer`` that the page's script and ``/api/layers`` share.

    Parameters
    ----------
    layer
        An on-map layer of the catalogue.
    info
        The store's ``layer_info`` for it (``{"synthetic": True}`` marks generated data).
    role
        Whose view this is; popup fields the role may not see are left out. For a role that sees
        generalised points, ``generalised_deg`` is the cell a point of the layer stands for (the
        map draws the cell).

    A detail point layer (one with a ``min_zoom``) has ``cluster``: its points cluster at low zoom.
    """
    popup = [
        {"name": f.name, "label": field_label(f.name), "type": f.type, "description": f.description}
        for f in visible_fields(layer, layer.popup, role)
    ]
    return {
        "name": layer.name,
        "title": layer.title,
        "description": layer.description,
        "geometry_type": layer.geometry_type,
        "style": dict(layer.style),
        "outline_only": is_outline_only(layer),
        "popup": popup,
        "synthetic": bool(info.get("synthetic", False)),
        "min_zoom": layer.min_zoom,
        "cluster": layer.geometry_type == "POINT" and layer.min_zoom is not None,
        "generalised_deg": layer.generalise_deg if Access(role).generalised else None,
    }
