"""Reading windows of local scenes onto one reference grid, band by band, for detection jobs.

A :class:`SceneReader` keeps a job's scenes open for a run of windows, so that GDAL's block cache
(at most ``GDAL_CACHEMAX``) serves tiles that neighbouring windows share; :func:`read_bands` and
:func:`read_stack` open and close the files for one read. Peak memory follows the window size
and the cache, not the scene size.
Windows may reach past the raster (a halo): the outside is filled with 0, the no-data value of
every band. Scenes on another grid are warped onto the reference grid (nearest neighbour).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import rasterio
from numpy.typing import NDArray
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from ingest.errors import SourceError
from ingest.imagery.local import LocalScene, cloud_to_scl

logger = logging.getLogger(__name__)

GDAL_OPTIONS = {"GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR", "GDAL_CACHEMAX": 128}
REFLECTANCE_SCALE = 10_000.0


def on_grid(scene: LocalScene, ref: LocalScene) -> bool:
    """True when ``scene`` shares ``ref``'s CRS, transform and size (no warping needed)."""
    return (scene.crs, scene.transform, scene.width, scene.height) == (ref.crs, ref.transform, ref.width, ref.height)


def _read(ds: rasterio.io.DatasetReaderBase, indexes: list[int], win: Window, width: int, height: int) -> NDArray[np.generic]:
    """``indexes`` of ``ds`` over ``win``, zero outside a ``width`` x ``height`` raster."""
    inner = win.intersection(Window(0, 0, width, height)) if _overlaps(win, width, height) else None
    out = np.zeros((len(indexes), int(win.height), int(win.width)), dtype=ds.dtypes[indexes[0] - 1])
    if inner is None:
        return out
    r0, c0 = int(inner.row_off - win.row_off), int(inner.col_off - win.col_off)
    out[:, r0:r0 + int(inner.height), c0:c0 + int(inner.width)] = ds.read(indexes, window=inner)
    return out


def _overlaps(win: Window, width: int, height: int) -> bool:
    return win.col_off < width and win.row_off < height and win.col_off + win.width > 0 and win.row_off + win.height > 0


class SceneReader:
    """The scenes of a job, each opened once (and warped onto the reference grid when needed).

    Use as a context manager on one thread; reads reuse the open datasets, so GDAL's block cache
    serves the tiles that neighbouring windows share (e.g. a cloud-dilation halo).
    """

    def __init__(self, scenes: Sequence[LocalScene], ref: LocalScene, *, own_env: bool = True) -> None:
        """``own_env=False`` leaves GDAL's options to the caller: a reader opened on one thread
        and closed on another (a pool of per-thread readers) must not enter a ``rasterio.Env``,
        which is per thread; reads then run inside the caller's ``rasterio.Env(**GDAL_OPTIONS)``."""
        self.scenes = list(scenes)
        self.ref = ref
        self._env = rasterio.Env(**GDAL_OPTIONS) if own_env else None
        self._open: list[tuple[rasterio.io.DatasetReaderBase, ...]] = []

    def __enter__(self) -> SceneReader:
        if self._env is not None:
            self._env.__enter__()
        try:
            for scene in self.scenes:
                ds = rasterio.open(scene.path, driver="GTiff")
                if on_grid(scene, self.ref):
                    self._open.append((ds,))
                else:
                    vrt = WarpedVRT(ds, crs=self.ref.crs, transform=self.ref.transform, width=self.ref.width,
                                    height=self.ref.height, resampling=Resampling.nearest, nodata=0)
                    self._open.append((vrt, ds))
        except rasterio.errors.RasterioIOError as err:
            self.__exit__(None, None, None)
            raise SourceError(str(self.scenes[len(self._open)].path), f"cannot be opened: {err}") from err
        return self

    def __exit__(self, *exc: object) -> None:
        for handles in self._open:
            for h in handles:
                h.close()
        self._open = []
        if self._env is not None:
            self._env.__exit__(None, None, None)

    def bands(self, index: int, win: Window, bands: Sequence[str]) -> NDArray[np.uint16]:
        """Bands of scene ``index`` over a window of the reference grid, as :func:`read_bands`."""
        scene = self.scenes[index]
        missing = [b for b in bands if not scene.has(b)]
        if missing:
            raise SourceError(str(scene.path), f"lacks band(s) {missing}")
        src = self._open[index][0]
        try:
            data = _read(src, [scene.index(b) for b in bands], win, self.ref.width, self.ref.height)
        except rasterio.errors.RasterioIOError as err:
            raise SourceError(str(scene.path), f"cannot read window {win}: {err}") from err
        return _as_dn(data, scene, bands)

    def stack(self, win: Window, bands: Sequence[str], out: Mapping[str, NDArray[np.generic]] | None = None) -> dict[str, NDArray[np.generic]]:
        """Bands of every scene over a window, as :func:`read_stack`.

        Integer scenes are decoded straight into the returned arrays (no intermediate copy);
        float scenes go through :meth:`bands` for scaling. ``out`` gives the arrays to fill
        (``(date, row, col)``, uint8 for SCL, else uint16), e.g. reused from window to window.
        """
        shape = (len(self.scenes), int(win.height), int(win.width))
        arrays = {b: np.empty(shape, np.uint8 if b == "SCL" else np.uint16) for b in bands} if out is None else dict(out)
        for b in bands:
            want = np.uint8 if b == "SCL" else np.uint16
            if arrays[b].shape != shape or arrays[b].dtype != want:
                raise ValueError(f"out[{b!r}] must be {np.dtype(want)} of shape {shape}; got {arrays[b].dtype} {arrays[b].shape}")
        out = arrays
        for t, scene in enumerate(self.scenes):
            src = self._open[t][0]
            missing = [b for b in bands if not scene.has(b)]
            if missing:
                raise SourceError(str(scene.path), f"lacks band(s) {missing}")
            if (scene.scale != REFLECTANCE_SCALE or scene.nodata is not None or scene.cloud_band is not None
                    or not all(np.dtype(src.dtypes[scene.index(b) - 1]).kind == "u" for b in bands)):
                data = self.bands(t, win, bands)
                for k, b in enumerate(bands):
                    out[b][t] = data[k]
                continue
            inner = win.intersection(Window(0, 0, self.ref.width, self.ref.height)) if _overlaps(win, self.ref.width, self.ref.height) else None
            for b in bands:
                if inner is None or inner != win:
                    out[b][t] = 0
            if inner is None:
                continue
            r0, c0 = int(inner.row_off - win.row_off), int(inner.col_off - win.col_off)
            rows, cols = slice(r0, r0 + int(inner.height)), slice(c0, c0 + int(inner.width))
            try:
                for b in bands:
                    src.read(scene.index(b), window=inner, out=out[b][t][rows, cols])
            except rasterio.errors.RasterioIOError as err:
                raise SourceError(str(scene.path), f"cannot read window {win}: {err}") from err
        return out


def _as_dn(data: NDArray[np.generic], scene: LocalScene, bands: Sequence[str]) -> NDArray[np.uint16]:
    """Reflectance x 10 000 as uint16 (floats 0-1 scaled and rounded; NaN, negative values and the
    declared nodata to 0); SCL as it is, or SCL codes made from a 0/1 cloud band (:func:`cloud_to_scl`)."""
    if data.dtype == np.uint16 and scene.nodata is None and scene.cloud_band is None:
        return data.astype(np.uint16, copy=False)
    out = np.empty(data.shape, np.uint16)
    for k, name in enumerate(bands):
        if name == "SCL" and scene.cloud_band is not None:
            out[k] = cloud_to_scl(data[k])
            continue
        values = np.nan_to_num(data[k].astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        if name != "SCL" and scene.nodata is not None:
            values[data[k] == scene.nodata] = 0.0
        if name != "SCL" and scene.scale != REFLECTANCE_SCALE:
            values *= REFLECTANCE_SCALE / scene.scale
        out[k] = np.clip(np.rint(values), 0, 65535)
    return out


def read_bands(scene: LocalScene, ref: LocalScene, win: Window, bands: Sequence[str]) -> NDArray[np.uint16]:
    """Bands of one scene over a window of the reference grid (opening and closing the file).

    Parameters
    ----------
    scene
        The acquisition.
    ref
        The scene whose grid (CRS, transform, size) the window refers to.
    win
        Window of ``ref``'s grid; it may reach outside the raster (filled with 0).
    bands
        Band names (``B04``, ``SCL`` ...); each must be in ``scene.bands``.

    Returns
    -------
    numpy.ndarray
        uint16, shape ``(band, row, col)``: reflectance x 10 000 (floats 0-1 are scaled and
        rounded, NaN becomes 0) and SCL codes as they are.

    Raises
    ------
    SourceError
        When a band is missing or the file cannot be read.
    """
    with SceneReader([scene], ref) as reader:
        return reader.bands(0, win, bands)


def read_stack(scenes: Sequence[LocalScene], ref: LocalScene, win: Window, bands: Sequence[str]) -> dict[str, NDArray[np.generic]]:
    """Bands of every scene over a window: ``{band: array (date, row, col)}`` in ``scenes`` order.

    Reflectance bands are uint16 (x 10 000), ``SCL`` is uint8. Raises :class:`SourceError` as
    :func:`read_bands` does.
    """
    with SceneReader(scenes, ref) as reader:
        return reader.stack(win, bands)


def read_cover(path: str, ref: LocalScene, win: Window) -> NDArray[np.float32]:
    """A tree-cover raster (percent, any CRS) warped onto a window of the reference grid.

    Outside the raster and where it has no data the value is NaN.

    Raises
    ------
    SourceError
        When the file cannot be opened.
    """
    try:
        with rasterio.Env(**GDAL_OPTIONS), rasterio.open(path) as ds, WarpedVRT(
            ds, crs=ref.crs, transform=ref.transform, width=ref.width, height=ref.height,
            resampling=Resampling.nearest, src_nodata=ds.nodata, nodata=np.nan, dtype="float32",
        ) as vrt:
            data = np.full((int(win.height), int(win.width)), np.nan, np.float32)
            if _overlaps(win, ref.width, ref.height):
                data[:] = _read(vrt, [1], win, ref.width, ref.height)[0]
                data[_outside(win, ref.width, ref.height)] = np.nan
            return data
    except rasterio.errors.RasterioIOError as err:
        raise SourceError(path, f"not a readable tree-cover raster: {err}") from err


def _outside(win: Window, width: int, height: int) -> NDArray[np.bool_]:
    rows = np.arange(int(win.row_off), int(win.row_off + win.height))
    cols = np.arange(int(win.col_off), int(win.col_off + win.width))
    return ((rows < 0) | (rows >= height))[:, None] | ((cols < 0) | (cols >= width))[None, :]
