"""XYZ imagery tiles (web Mercator, 256 px PNG) rendered from the stored scene COGs.

A tile is read from each scene file through a :class:`rasterio.vrt.WarpedVRT` whose grid is
the tile itself (EPSG:3857 bounds of ``z/x/y``, 256 x 256), so GDAL reads only the blocks the
tile needs. Styles:

- ``truecolor``: B04 B03 B02 stretched like the quicklooks (reflectance 0-0.3 to 0-255, gamma
  1/1.6); without B02/B03, false colour B11 B08 B04;
- ``ndvi``: (B08 - B04) / (B08 + B04) on the quicklooks' ramp.

Pixels with no data (outside the scene, the declared nodata, 0) are transparent; several
scenes of one date are drawn in order, later ones over earlier ones where they have data.
"""

from __future__ import annotations

import functools
import logging
import math
import struct
import threading
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from numpy.typing import NDArray
from rasterio.enums import Resampling
from rasterio.transform import from_bounds
from rasterio.vrt import WarpedVRT

from ingest.imagery.local import open_scene
from jobs.quicklooks import GAMMA, RAMP, STRETCH_MAX

logger = logging.getLogger(__name__)

TILE = 256
STYLES = ("truecolor", "ndvi")
MAX_ZOOM = 20
WEB_MERCATOR_HALF = 20037508.342789244  # metres: half the side of the EPSG:3857 square
CACHE_TILES = 512


class TileError(ValueError):
    """A tile that cannot be asked for (zoom, column, row or style out of range)."""


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(west, south, east, north) of XYZ tile ``z/x/y`` in EPSG:3857 metres (row 0 at the north)."""
    if not 0 <= z <= MAX_ZOOM:
        raise TileError(f"zoom {z} is outside 0..{MAX_ZOOM}")
    n = 1 << z
    if not (0 <= x < n and 0 <= y < n):
        raise TileError(f"tile {x}/{y} is outside 0..{n - 1} at zoom {z}")
    size = 2 * WEB_MERCATOR_HALF / n
    west = -WEB_MERCATOR_HALF + x * size
    north = WEB_MERCATOR_HALF - y * size
    return west, north - size, west + size, north


def lonlat_tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The XYZ tile holding ``(lon, lat)`` at zoom ``z``."""
    n = 1 << z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def png_rgba(image: NDArray[np.uint8]) -> bytes:
    """An 8-bit RGBA PNG of ``image`` (shape ``(4, row, col)``), rows unfiltered, DEFLATE level 1."""
    _, h, w = image.shape
    raw = np.zeros((h, 1 + 4 * w), np.uint8)
    raw[:, 1:] = np.ascontiguousarray(image.transpose(1, 2, 0)).reshape(h, 4 * w)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)  # 8 bits, RGBA
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw.tobytes(), 1)) + chunk(b"IEND", b"")


def _stretch(band: NDArray[np.float32]) -> NDArray[np.uint8]:
    x = np.clip(band / STRETCH_MAX, 0.0, 1.0) ** GAMMA
    return (x * 255.0 + 0.5).astype(np.uint8)


def _render(data: NDArray[np.float32], style: str) -> NDArray[np.uint8]:
    """RGB ``(3, TILE, TILE)`` of ``data`` (bands as read: three colour bands, or red and NIR)."""
    if style == "truecolor":
        return np.stack([_stretch(b) for b in data[:3]])
    red, nir = data[0].astype(np.float64), data[1].astype(np.float64)
    ndvi = np.divide(nir - red, nir + red, out=np.zeros_like(red), where=(nir + red) > 0)
    return np.stack([np.interp(ndvi, RAMP[:, 0], RAMP[:, k]) for k in (1, 2, 3)]).astype(np.uint8)


@functools.lru_cache(maxsize=256)
def _bands(path: Path, mtime_ns: int, style: str) -> tuple[list[int], float, float | None]:
    """Band indexes to read for ``style``, the reflectance scale to 0-10 000 and the nodata value
    (``mtime_ns``: a changed file is described again)."""
    scene = open_scene(path)
    if style == "ndvi":
        names = ["B04", "NIR"]
    elif scene.has("B02") and scene.has("B03"):
        names = ["B04", "B03", "B02"]
    else:
        names = ["B11" if scene.has("B11") else "B12", "NIR", "B04"]
    return [scene.index(n) for n in names], 10000.0 / scene.scale, scene.nodata


def _read_tile(path: Path, mtime_ns: int, bounds: tuple[float, float, float, float], style: str) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
    """(bands ``(n, TILE, TILE)`` as reflectance x 10 000, valid mask) of one scene over a tile.

    Read through a :class:`rasterio.vrt.WarpedVRT` whose grid is the tile, so GDAL reads only
    the blocks under the tile. (Warping an in-memory array instead, with ``reproject``, was
    faster but builds a MemoryDataset whose warning rasterio silences with
    ``warnings.catch_warnings``, which is not thread-safe: under waitress's threads it escaped.)
    """
    indexes, factor, nodata = _bands(path, mtime_ns, style)
    transform = from_bounds(*bounds, TILE, TILE)
    with rasterio.open(path) as ds, WarpedVRT(
        ds, crs="EPSG:3857", transform=transform, width=TILE, height=TILE,
        resampling=Resampling.bilinear, src_nodata=nodata if nodata is not None else 0, nodata=0,
    ) as vrt:
        data = vrt.read(indexes, out_dtype="float32")
    valid: NDArray[np.bool_] = np.asarray((data > 0).all(axis=0), dtype=bool)
    data *= np.float32(factor)
    return data, valid


@dataclass(frozen=True)
class SceneFile:
    """A scene file to draw, and what identifies its content (for caches and ETags)."""

    path: Path
    mtime_ns: int
    size: int

    @classmethod
    def of(cls, path: Path) -> SceneFile:
        st = path.stat()
        return cls(path, st.st_mtime_ns, st.st_size)


def render_tile(files: Sequence[SceneFile], z: int, x: int, y: int, style: str) -> bytes:
    """The PNG of tile ``z/x/y`` in ``style`` over ``files`` (later files on top); transparent where none has data.

    Raises
    ------
    TileError
        A tile or style out of range.
    """
    if style not in STYLES:
        raise TileError(f"style {style[:20]!r} is not one of {', '.join(STYLES)}")
    bounds = tile_bounds(z, x, y)
    out = np.zeros((4, TILE, TILE), np.uint8)
    for f in files:
        data, valid = _read_tile(f.path, f.mtime_ns, bounds, style)
        if not valid.any():
            continue
        rgb = _render(data, style)
        out[:3, valid] = rgb[:, valid]
        out[3, valid] = 255
    return png_rgba(out)


class TileCache:
    """An in-process LRU of rendered tiles, keyed by the files' identity, the tile and the style."""

    def __init__(self, size: int = CACHE_TILES) -> None:
        self._size = size
        self._items: OrderedDict[tuple[object, ...], bytes] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, files: Sequence[SceneFile], z: int, x: int, y: int, style: str) -> bytes:
        key = (tuple(files), z, x, y, style)
        with self._lock:
            png = self._items.get(key)
            if png is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return png
            self.misses += 1
        png = render_tile(files, z, x, y, style)
        with self._lock:
            self._items[key] = png
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return png
