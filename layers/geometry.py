"""The one promotion of single-part geometries to the Multi types the layers hold, and the check
that a layer's geometries are of its type (every store backend writes through it)."""

from __future__ import annotations

import numpy as np
import shapely
from numpy.typing import NDArray

from layers.errors import LayerError

# shapely type ids
_LINESTRING, _POLYGON = 1, 3


def promote_to_multi(geoms: NDArray[np.object_]) -> NDArray[np.object_]:
    """Polygon -> MultiPolygon and LineString -> MultiLineString; every other geometry (and None)
    is returned as it is. A new array; the input is not changed."""
    geoms = np.array(geoms, dtype=object, copy=True)
    types = shapely.get_type_id(geoms)
    for type_id, make in ((_POLYGON, shapely.multipolygons), (_LINESTRING, shapely.multilinestrings)):
        single = types == type_id
        if single.any():
            geoms[single] = make(geoms[single][:, None])
    return geoms


_FAMILY = {"MULTIPOLYGON": ("Polygon", "MultiPolygon"), "MULTILINESTRING": ("LineString", "MultiLineString"), "POINT": ("Point",)}
_TYPE_NAMES = np.array(["Point", "LineString", "LinearRing", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon", "GeometryCollection"])


def promote_for_layer(geoms: NDArray[np.object_], layer: str, geometry_type: str, offset: int = 0) -> NDArray[np.object_]:
    """``geoms`` as layer ``layer`` of ``geometry_type`` holds them: single parts to Multi for the
    Multi layers.

    Raises
    ------
    LayerError
        For a geometry of another family, naming its record (``offset`` + its position).
    """
    allowed = _FAMILY[geometry_type]
    types = shapely.get_type_id(geoms)
    present = types >= 0
    bad = present & ~np.isin(_TYPE_NAMES[np.clip(types, 0, 7)], allowed)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise LayerError(f"writing {layer!r}: record {offset + i} is a {_TYPE_NAMES[types[i]]}, the layer holds {geometry_type}")
    return promote_to_multi(geoms) if geometry_type.startswith("MULTI") else geoms
