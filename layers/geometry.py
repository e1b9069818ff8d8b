"""The one promotion of single-part geometries to the Multi types the layers hold."""

from __future__ import annotations

import numpy as np
import shapely
from numpy.typing import NDArray

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
