"""Copying a whole store into another (a GeoPackage into PostGIS and back), checked layer by layer.

:func:`copy_store` writes every layer of the source into an empty target in one transaction, in
the source's row order, with each layer's metadata; then :func:`layer_checksum` is computed on
both sides: the row count and a SHA-256 over the rows in key order, each row being its
normalised geometry as WKB (``shapely.normalize``, ISO, little-endian) and its fields as the
store writes them (:func:`layers.values.to_sql`: ISO dates, sorted-key JSON, NULLs). Two stores
with the same checksum hold the same rows, whatever their backend or row ids.

Only the store interface is used, so any two backends can be copied either way.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import orjson
import shapely

from layers.catalog import CATALOG
from layers.errors import StoreError
from layers.store import Store
from layers.values import to_sql_column

logger = logging.getLogger(__name__)

PAGE_ROWS = 50_000
"""Rows read (and written) at a time."""


@dataclass(frozen=True)
class LayerCopy:
    """One layer copied: rows and checksum on each side."""

    layer: str
    source_rows: int
    target_rows: int
    source_checksum: str
    target_checksum: str

    @property
    def ok(self) -> bool:
        return self.source_rows == self.target_rows and self.source_checksum == self.target_checksum


def layer_checksum(store: Store, layer: str, *, page_rows: int = PAGE_ROWS) -> tuple[int, str]:
    """Rows of ``layer`` and the SHA-256 (hex) of their normalised geometries and fields, in key order."""
    lyr = CATALOG[layer]
    digest = hashlib.sha256()
    n = 0
    for offset in range(0, store.count(layer) + 1, page_rows):
        page = store.read(layer, order_by=list(lyr.key), limit=page_rows, offset=offset)
        if page.empty:
            break
        cols: list[list[object]] = []
        if lyr.geometry_type:
            geoms = np.asarray(page.geometry.values, dtype=object) if isinstance(page, gpd.GeoDataFrame) else np.full(len(page), None)
            wkb = shapely.to_wkb(shapely.normalize(geoms), hex=True, byte_order=1, flavor="iso")
            cols.append([None if w is None else str(w) for w in wkb.tolist()])
        cols += [to_sql_column(f.type, page[f.name]) for f in lyr.fields]
        for row in zip(*cols, strict=True):
            digest.update(orjson.dumps(row))
            digest.update(b"\n")
        n += len(page)
    return n, digest.hexdigest()


def copy_store(source: Store, target: Store, *, progress: Callable[[str, int], None] | None = None) -> list[LayerCopy]:
    """Copy every layer of ``source`` into ``target`` (whose layers must be empty); returns each layer's check.

    The copy is one transaction of ``target``: when it fails, ``target`` is left as it was.

    Raises
    ------
    StoreError
        When a layer of ``target`` already holds rows (nothing is written then), or a write fails.
    """
    full = [(name, target.count(name)) for name in CATALOG if target.count(name)]
    if full:
        held = ", ".join(f"{name} ({n} rows)" for name, n in full)
        raise StoreError(f"{target.url}: copy into an empty store; these layers hold rows already: {held}")
    with target.transaction():
        for name in CATALOG:
            total = source.count(name)
            for offset in range(0, total, PAGE_ROWS):
                page = source.read(name, limit=PAGE_ROWS, offset=offset)  # in the source's row order
                counts = target.upsert(name, page)
                if counts.inserted != len(page):
                    raise StoreError(f"{target.url}: layer {name}: {len(page)} rows read, {counts.inserted} inserted (keys repeat?)")
                if progress is not None:
                    progress(name, offset + len(page))
            info = source.layer_info(name)
            if info:
                target.set_layer_info(name, **info)
    checks = []
    for name in CATALOG:
        src_n, src_sum = layer_checksum(source, name)
        dst_n, dst_sum = layer_checksum(target, name)
        checks.append(LayerCopy(name, src_n, dst_n, src_sum, dst_sum))
        logger.info("copied %s: %d rows, checksum %s", name, dst_n, dst_sum[:16])
    return checks
