"""XYZ imagery tiles (web Mercator, 256 px PNG) rendered from the stored scene COGs.

A tile is read from each scene file as the window under the tile (EPSG:3857 bounds of
``z/x/y`` projected to the file's CRS), decimated on read to about the tile's resolution so that
GDAL reads only the blocks of the fitting overview, and resampled to the tile's 256 x 256 web
Mercator pixels in numpy (:func:`_read_tile`). Styles:

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
import rasterio.io
from numpy.typing import NDArray
from pyproj import Transformer
from rasterio.enums import Resampling
from rasterio.windows import Window

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


_OPEN = threading.local()  # each thread's open scene files (rasterio datasets are not shared between threads)
OPEN_FILES = 8
_CONTROL = 17  # control points a side: the tile's projection is computed there and interpolated between


def _dataset(path: Path, mtime_ns: int) -> rasterio.io.DatasetReader:
    """This thread's open dataset of ``path`` (reopened when the file changed), least recently used closed."""
    held: OrderedDict[tuple[Path, int], rasterio.io.DatasetReader] | None = getattr(_OPEN, "files", None)
    if held is None:
        held = _OPEN.files = OrderedDict()
    key = (path, mtime_ns)
    ds = held.get(key)
    if ds is None:
        ds = held[key] = rasterio.open(path)
        while len(held) > OPEN_FILES:
            held.popitem(last=False)[1].close()
    held.move_to_end(key)
    return ds


@functools.lru_cache(maxsize=64)
def _to_source(crs: str) -> Transformer:
    return Transformer.from_crs("EPSG:3857", crs, always_xy=True)


def _source_points(ds: rasterio.io.DatasetReader, bounds: tuple[float, float, float, float]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Column and row (fractional, in the file's full-resolution pixels) under the centre of each tile pixel.

    Projected exactly at :data:`_CONTROL` x :data:`_CONTROL` points and interpolated bilinearly
    between them (the projection is smooth at a tile's scale: far below a pixel's error).
    """
    west, south, east, north = bounds
    at = np.linspace(0.0, TILE, _CONTROL)
    gx, gy = np.meshgrid(west + at / TILE * (east - west), north - at / TILE * (north - south))
    sx, sy = _to_source(ds.crs.to_string()).transform(gx, gy)
    inverse = ~ds.transform
    cols, rows = inverse * (np.asarray(sx), np.asarray(sy))
    # tile pixel centres in control-grid units, and bilinear weights
    u = (np.arange(TILE) + 0.5) / TILE * (_CONTROL - 1)
    i0 = np.minimum(u.astype(int), _CONTROL - 2)
    f = u - i0

    def interpolate(grid: NDArray[np.float64]) -> NDArray[np.float64]:
        top = grid[i0][:, i0] * (1 - f)[None, :] + grid[i0][:, i0 + 1] * f[None, :]
        bottom = grid[i0 + 1][:, i0] * (1 - f)[None, :] + grid[i0 + 1][:, i0 + 1] * f[None, :]
        out: NDArray[np.float64] = top * (1 - f)[:, None] + bottom * f[:, None]
        return out

    return interpolate(np.asarray(cols, dtype=np.float64)), interpolate(np.asarray(rows, dtype=np.float64))


def _sample(data: NDArray[np.float32], valid: NDArray[np.bool_], cols: NDArray[np.float64], rows: NDArray[np.float64]) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
    """Bilinear samples of ``data`` (bands, row, col) at pixel-centre coordinates, over the valid pixels only."""
    n, h, w = data.shape
    x, y = (cols - 0.5).ravel(), (rows - 0.5).ravel()
    outside = (x < -1) | (x >= w) | (y < -1) | (y >= h)
    x0 = np.clip(np.floor(x), -1, w - 1).astype(np.int64)
    y0 = np.clip(np.floor(y), -1, h - 1).astype(np.int64)
    fx, fy = (x - x0).astype(np.float32), (y - y0).astype(np.float32)
    # one pixel of "no data" around the window, so the four neighbours are always indexable
    padded = np.pad(data, ((0, 0), (1, 1), (1, 1))).reshape(n, -1)
    ok_pixel = np.pad(valid, 1).ravel()
    base = (y0 + 1) * (w + 2) + (x0 + 1)
    out = np.zeros((n, len(x)), np.float32)
    weight = np.zeros(len(x), np.float32)
    for offset, wgt in ((0, (1 - fx) * (1 - fy)), (1, fx * (1 - fy)), (w + 2, (1 - fx) * fy), (w + 3, fx * fy)):
        idx = base + offset
        wv = np.where(ok_pixel[idx] & ~outside, wgt, np.float32(0))
        out += np.take(padded, idx, axis=1) * wv
        weight += wv
    has = weight > 1e-6
    np.divide(out, weight, out=out, where=has)
    return out.reshape(n, *cols.shape), has.reshape(cols.shape)


def _read_tile(path: Path, mtime_ns: int, bounds: tuple[float, float, float, float], style: str) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
    """(bands ``(n, TILE, TILE)`` as reflectance x 10 000, valid mask) of one scene over a tile.

    The window of the file under the tile is read at about the tile's resolution (GDAL then
    reads the fitting overview, not the full-resolution blocks), and resampled to the tile's web
    Mercator pixels here, bilinearly over the pixels with data (numpy: no GDAL warper, whose
    in-memory datasets warn through a ``warnings.catch_warnings`` that is not thread-safe).
    """
    indexes, factor, nodata = _bands(path, mtime_ns, style)
    ds = _dataset(path, mtime_ns)
    cols, rows = _source_points(ds, bounds)
    c0, c1 = max(0, int(np.floor(cols.min())) - 1), min(ds.width, int(np.ceil(cols.max())) + 1)
    r0, r1 = max(0, int(np.floor(rows.min())) - 1), min(ds.height, int(np.ceil(rows.max())) + 1)
    empty = (np.zeros((len(indexes), TILE, TILE), np.float32), np.zeros((TILE, TILE), bool))
    if c0 >= c1 or r0 >= r1:
        return empty
    # source pixels per tile pixel: read that much coarser (never finer than the file)
    step = max(1.0, float(np.hypot(np.diff(cols, axis=1), np.diff(rows, axis=1)).mean()))
    out_w, out_h = max(1, math.ceil((c1 - c0) / step)), max(1, math.ceil((r1 - r0) / step))
    data = ds.read(indexes, window=Window(c0, r0, c1 - c0, r1 - r0), out_shape=(len(indexes), out_h, out_w),
                   resampling=Resampling.nearest, out_dtype="float32")
    missing = np.float32(nodata if nodata is not None else 0)
    valid = (data != missing).all(axis=0) & (data > 0).all(axis=0)
    sampled, has = _sample(data, valid, (cols - c0) * out_w / (c1 - c0), (rows - r0) * out_h / (r1 - r0))
    sampled *= np.float32(factor)
    return sampled, has


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
