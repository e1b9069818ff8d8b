"""Quicklooks: before/after true-colour and NDVI PNG chips of each clearing, for the analyst.

For a clearing, *before* is the latest acquisition before ``first_detected`` and *after* the
latest acquisition of the run, each the first such date (going back in time) whose view of the
clearing is at least :data:`CLEAR_SHARE` valid (SCL), else the clearest of the few tried. Chips
cover the clearing with a margin, share one fixed stretch (so before and after compare), are
enlarged to at least :data:`MIN_SIDE` pixels (nearest neighbour) and carry the clearing's
outline in yellow. True colour needs B02 and B03; without them the chip is false colour
(B11, B08, B04) and named so.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import struct
import threading
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
import rasterio.features
import shapely
from affine import Affine
from numpy.typing import NDArray
from rasterio.windows import Window, from_bounds

from geo.change.masks import valid_observations
from ingest.imagery.local import LocalScene
from ingest.imagery.scene_windows import GDAL_OPTIONS, SceneReader, read_bands
from layers.files import atomic_path

logger = logging.getLogger(__name__)

CLEAR_SHARE = 0.8
MAX_TRIES = 6
MIN_SIDE = 128
MAX_SIDE = 256  # larger chips are decimated (every n-th pixel) to at most this
STRETCH_MAX = 3000.0  # reflectance x 10 000 shown as full brightness
GAMMA = 1 / 1.6
OUTLINE = (255, 221, 0)
CLOUD_GREY = (190, 190, 190)
# NDVI colour ramp: (NDVI, R, G, B)
RAMP = np.array([(-0.2, 70, 110, 160), (0.1, 150, 110, 70), (0.3, 225, 205, 120), (0.6, 120, 185, 80), (0.9, 10, 90, 20)], dtype=np.float64)


def _chip_window(geom: shapely.Geometry, ref: LocalScene) -> Window:
    win = from_bounds(*geom.bounds, transform=ref.transform)
    side = max(float(win.width), float(win.height))
    margin = max(8.0, 0.4 * side)
    c0, r0 = math.floor(win.col_off - margin), math.floor(win.row_off - margin)
    c1, r1 = math.ceil(win.col_off + win.width + margin), math.ceil(win.row_off + win.height + margin)
    return Window(c0, r0, c1 - c0, r1 - r0).intersection(Window(0, 0, ref.width, ref.height))


def _bands(scene: LocalScene) -> tuple[str, tuple[str, str, str]]:
    true = "B02" in scene.bands and "B03" in scene.bands
    return ("true_colour", ("B04", "B03", "B02")) if true else ("false_colour", ("B11", "B08", "B04"))


ReadBands = Callable[[LocalScene, Window, tuple[str, ...]], NDArray[np.uint16]]
"""Reads bands of a scene over a window of the reference grid (as :func:`read_bands`)."""


class ThreadReaders:
    """The run's scenes opened once per thread for chip reads, so that GDAL's block cache serves
    the tiles that chips read one after another share (and no file is opened per chip).

    :meth:`read` is a :data:`ReadBands` for any thread; call :meth:`close` once the threads are done.
    """

    def __init__(self, scenes: Sequence[LocalScene], ref: LocalScene) -> None:
        self.scenes, self.ref = list(scenes), ref
        self._index = {s.path: i for i, s in enumerate(self.scenes)}
        self._local = threading.local()
        self._open: list[SceneReader] = []
        self._lock = threading.Lock()

    def read(self, scene: LocalScene, win: Window, names: tuple[str, ...]) -> NDArray[np.uint16]:
        with rasterio.Env(**GDAL_OPTIONS):
            reader = getattr(self._local, "reader", None)
            if reader is None:  # opened without an Env of its own: it is closed on another thread
                reader = self._local.reader = SceneReader(self.scenes, self.ref, own_env=False).__enter__()
                with self._lock:
                    self._open.append(reader)
            return reader.bands(self._index[scene.path], win, names)

    def close(self) -> None:
        with self._lock:
            for reader in self._open:
                reader.__exit__(None, None, None)
            self._open = []


def _read(read: ReadBands, scene: LocalScene, win: Window, step: int) -> NDArray[np.uint16]:
    """One read of everything a chip needs: 3 colour bands, B04, B08, SCL, decimated by ``step``."""
    _, colour = _bands(scene)
    names = tuple(dict.fromkeys((*colour, "B04", "B08", "SCL")))
    data = read(scene, win, names)
    data = data[:, ::step, ::step] if step > 1 else data
    return np.stack([data[names.index(b)] for b in (*colour, "B04", "B08", "SCL")])


def _pick(candidates: Sequence[LocalScene], read: ReadBands, win: Window, step: int, inside: NDArray[np.bool_],
          invalid: Sequence[int]) -> tuple[LocalScene, NDArray[np.uint16]] | None:
    """The first candidate with a clear enough view (else the clearest tried) and its chip data."""
    best: tuple[float, LocalScene, NDArray[np.uint16]] | None = None
    for scene in candidates[:MAX_TRIES]:
        data = _read(read, scene, win, step)
        valid = valid_observations(data[5], invalid, data[3], data[4])
        share = float(valid[inside].mean()) if inside.any() else float(valid.mean())
        if share >= CLEAR_SHARE:
            return scene, data
        if best is None or share > best[0]:
            best = (share, scene, data)
    return None if best is None else (best[1], best[2])


def _stretch(band: NDArray[np.uint16]) -> NDArray[np.uint8]:
    x = np.clip(band.astype(np.float32) / STRETCH_MAX, 0.0, 1.0) ** GAMMA
    return (x * 255.0 + 0.5).astype(np.uint8)


def _render(data: NDArray[np.uint16], invalid: Sequence[int]) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """``(colour rgb (3, row, col), ndvi rgb (3, row, col))`` of one chip's data (see :func:`_read`)."""
    rgb = np.stack([_stretch(b) for b in data[:3]])
    red, nir = data[3].astype(np.float64), data[4].astype(np.float64)
    ndvi = np.divide(nir - red, nir + red, out=np.zeros_like(red), where=(nir + red) > 0)
    ramp = np.stack([np.interp(ndvi, RAMP[:, 0], RAMP[:, k]) for k in (1, 2, 3)]).astype(np.uint8)
    bad = ~valid_observations(data[5], invalid, data[3], data[4])
    ramp[:, bad] = np.array(CLOUD_GREY, np.uint8)[:, None]
    return rgb, ramp


def _enlarge(image: NDArray[np.uint8]) -> NDArray[np.uint8]:
    factor = max(1, math.ceil(MIN_SIDE / max(image.shape[1:])))
    return image.repeat(factor, axis=1).repeat(factor, axis=2) if factor > 1 else image


def png_bytes(image: NDArray[np.uint8]) -> bytes:
    """An 8-bit RGB PNG of ``image`` (shape ``(3, row, col)``): rows unfiltered, DEFLATE level 2.

    Written here rather than through GDAL's PNG driver, which goes through a temporary dataset
    per file: three times slower for a chip, and a run writes four chips per clearing.
    """
    _, h, w = image.shape
    raw = np.zeros((h, 1 + 3 * w), np.uint8)  # each row: filter type 0, then R G B per pixel
    raw[:, 1:] = np.ascontiguousarray(image.transpose(1, 2, 0)).reshape(h, 3 * w)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)  # 8 bits, truecolour, deflate, no filter, no interlace
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw.tobytes(), 2)) + chunk(b"IEND", b"")


def _write_png(path: Path, image: NDArray[np.uint8]) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(png_bytes(image))


@dataclass(frozen=True)
class Chip:
    """Where one clearing's chips come from: the window, the decimation, the clearing's masks.

    Made by :func:`plan_chip` on the calling thread (it rasterises), then written by
    :func:`write_quicklooks` on any thread.
    """

    clearing_id: str
    first_detected: dt.date
    window: Window
    step: int
    transform: Affine
    inside: NDArray[np.bool_]
    outline: NDArray[np.bool_]


def plan_chip(clearing_id: str, geom: shapely.Geometry, first_detected: dt.date, ref: LocalScene) -> Chip | None:
    """The chip of a clearing (``geom`` in ``ref``'s CRS), or ``None`` when it lies off the grid.

    Uses ``rasterio.features``: call it on one thread (rasterio's own warning filters are not
    thread-safe).
    """
    win = _chip_window(geom, ref)
    if win.width < 1 or win.height < 1:
        return None
    step = max(1, math.ceil(max(int(win.width), int(win.height)) / MAX_SIDE))
    transform = rasterio.windows.transform(win, ref.transform) @ Affine.scale(step)
    shape = (-(-int(win.height) // step), -(-int(win.width) // step))
    inside = rasterio.features.rasterize([(geom, 1)], out_shape=shape, transform=transform).astype(bool)
    outline = rasterio.features.rasterize([(geom.boundary, 1)], out_shape=shape, transform=transform, all_touched=True).astype(bool)
    return Chip(clearing_id, first_detected, win, step, transform, inside, outline)


def write_quicklooks(
    chip: Chip,
    scenes: Sequence[LocalScene],
    ref: LocalScene,
    folder: Path,
    root: Path,
    invalid_classes: Sequence[int],
    read: ReadBands | None = None,
) -> dict[str, str]:
    """Write one clearing's four chips and return their paths by name, relative to ``root``.

    Parameters
    ----------
    chip
        The clearing's chip (:func:`plan_chip`).
    scenes
        Every acquisition of the run (baseline and monitoring), ascending by date: *before*
        chips come from acquisitions before ``chip.first_detected``.
    ref
        The scene whose grid the detection ran on.
    folder
        Where chips go: ``folder/<clearing_id>/<name>.png``.
    root
        Paths are returned relative to this folder (the store's), with ``/`` separators.
    invalid_classes
        SCL classes of invalid observations (settings).
    read
        How bands are read (e.g. :meth:`ThreadReaders.read`); by default each read opens its file.

    Returns
    -------
    dict
        ``{"before_true_colour": ..., "after_true_colour": ..., "before_ndvi": ..., "after_ndvi": ...}``
        (``*_false_colour`` without B02/B03); empty when no acquisition precedes the clearing.

    Raises
    ------
    SourceError
        When a scene cannot be read.
    OSError
        When a PNG cannot be written.
    """
    if read is None:
        def read(scene: LocalScene, win: Window, names: tuple[str, ...]) -> NDArray[np.uint16]:
            return read_bands(scene, ref, win, names)
    before = _pick([s for s in reversed(scenes) if s.acquired < chip.first_detected], read, chip.window, chip.step, chip.inside, invalid_classes)
    after = _pick(list(reversed(scenes)), read, chip.window, chip.step, chip.inside, invalid_classes)
    if before is None or after is None:
        return {}
    out: dict[str, str] = {}
    for when, (scene, data) in (("before", before), ("after", after)):
        kind, _ = _bands(scene)
        rgb, ndvi = _render(data, invalid_classes)
        for name, image in ((f"{when}_{kind}", rgb), (f"{when}_ndvi", ndvi)):
            image[:, chip.outline] = np.array(OUTLINE, np.uint8)[:, None]
            path = folder / chip.clearing_id / f"{name}.png"
            _write_png(path, _enlarge(image))
            out[name] = path.relative_to(root).as_posix()
    logger.debug("quicklooks of %s: before %s, after %s", chip.clearing_id, before[0].acquired, after[0].acquired)
    return out
