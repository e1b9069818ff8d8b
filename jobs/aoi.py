"""Resolving ``--aoi NAME`` against the store's ``aoi`` layer."""

from __future__ import annotations

import shapely

from ingest.errors import AOIError
from layers.store import Store


def aoi_geometry(store: Store, name: str) -> shapely.Geometry:
    """The AOI's geometry in EPSG:4326; ``AOIError`` lists the AOIs the store holds."""
    frame = store.read("aoi", where={"name": name})
    if frame.empty:
        known = sorted(store.read("aoi", columns=["name"])["name"])
        raise AOIError(f"no AOI named {name!r} in the store; known: {', '.join(known) or 'none (ingest boundaries aoi FILE first)'}")
    return frame.geometry.iloc[0]
