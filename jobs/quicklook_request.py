"""Quicklooks of one clearing made when the review desk asks for them and the detect run made none.

The chips land where :func:`jobs.detect` puts them (``quicklooks/<aoi>/<clearing_id>/<name>.png``
under the data folder), so the next request finds them; the store is not written (a page view
changes no state). The scenes are the AOI's ingested scenes, the grid that of the first of them (as the
detect run's baseline starts the series).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pandas as pd

from config import Settings
from ingest.imagery.local import open_scene
from jobs.quicklooks import plan_chip, write_quicklooks
from layers.store import Store

logger = logging.getLogger(__name__)

# plan_chip rasterises with rasterio.features, whose warning filters are not thread-safe
_PLAN_LOCK = threading.Lock()


def quicklook_folder(settings: Settings) -> Path:
    """The folder the chips' relative paths start from: the data folder, as for :func:`jobs.detect.detect`."""
    return Path(settings.data_dir).resolve()


def chips_on_disk(settings: Settings, aoi: str, clearing_id: str) -> dict[str, str]:
    """The chips already written for a clearing, by name (paths relative to :func:`quicklook_folder`)."""
    root = quicklook_folder(settings)
    folder = root / "quicklooks" / aoi / clearing_id
    if not folder.is_dir():
        return {}
    return {p.stem: p.relative_to(root).as_posix() for p in sorted(folder.glob("*.png"))}


def make_quicklooks(store: Store, settings: Settings, clearing_id: str) -> dict[str, str]:
    """Write the chips of ``clearing_id`` from the AOI's scenes; ``{}`` when there are no scenes to
    make them from (e.g. the scenes were not kept) or no acquisition precedes the clearing.

    Raises
    ------
    ingest.errors.SourceError
        When a scene file cannot be read.
    """
    rows = store.read("clearings", where={"clearing_id": clearing_id}, columns=["clearing_id", "aoi", "first_detected"])
    if rows.empty:
        return {}
    row = rows.iloc[0]
    aoi = str(row["aoi"])
    scene_rows = store.read("scenes", where={"aoi": aoi}, columns=["path", "acquired"]).sort_values("acquired")
    paths = [Path(p) for p in scene_rows["path"] if isinstance(p, str) and Path(p).is_file()]
    if not paths:
        logger.info("quicklooks of %s: no scene files of AOI %s to make them from", clearing_id, aoi)
        return {}
    scenes = [open_scene(p) for p in paths]
    ref = scenes[0]
    geom = rows.to_crs(ref.crs).geometry.iloc[0]
    first = pd.Timestamp(row["first_detected"]).date() if not pd.isna(row["first_detected"]) else scenes[-1].acquired
    with _PLAN_LOCK:
        chip = plan_chip(clearing_id, geom, first, ref)
    if chip is None:
        return {}
    root = quicklook_folder(settings)
    out = write_quicklooks(chip, scenes, ref, root / "quicklooks" / aoi, root, settings.invalid_scl_classes)
    logger.info("quicklooks of %s made on request: %s", clearing_id, ", ".join(out) or "none")
    return out
