"""The before/after chips of a clearing, as PNG bytes for an evidence report.

The chips the detect run recorded, else those already on disk, else made now from the AOI's
scenes (:mod:`jobs.quicklook_request`). A path read from the store is used only when it stays in
the data folder's ``quicklooks`` folder. A true-colour chip stands in for by the false-colour one
when the scenes lack B02/B03, as on the review desk.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from config import Settings
from jobs.quicklook_request import chips_on_disk, make_quicklooks, quicklook_folder
from layers.store import Store

logger = logging.getLogger(__name__)

REPORT_CHIPS = ("before_true_colour", "after_true_colour", "before_ndvi", "after_ndvi")


def _inside(root: Path, relative: Any) -> Path | None:
    if not isinstance(relative, str) or not relative:
        return None
    path = (root / relative).resolve()
    return path if path.is_relative_to((root / "quicklooks").resolve()) and path.is_file() else None


def _find(root: Path, sources: Sequence[Mapping[str, Any]], name: str) -> Path | None:
    for source in sources:
        for n in (name, name.replace("true_colour", "false_colour")):
            found = _inside(root, source.get(n))
            if found is not None:
                return found
    return None


def report_chips(store: Store, settings: Settings, clearing_id: str, aoi: str, known: Any,
                 names: Sequence[str] = REPORT_CHIPS) -> dict[str, bytes]:
    """The chips of ``clearing_id``, keyed by the name of the chip found (``before_false_colour`` stands
    in for ``before_true_colour`` when the scenes lack B02/B03); names with no imagery are left out.

    Raises
    ------
    ingest.errors.SourceError
        When a scene file that a chip must be made from cannot be read.
    """
    root = quicklook_folder(settings)
    sources: list[Mapping[str, Any]] = [known if isinstance(known, dict) else {}, chips_on_disk(settings, aoi, clearing_id)]
    if any(_find(root, sources, n) is None for n in names):
        sources.append(make_quicklooks(store, settings, clearing_id))
    out: dict[str, bytes] = {}
    for name in names:
        path = _find(root, sources, name)
        if path is not None:
            out[path.stem] = path.read_bytes()
    if len(out) < len(names):
        logger.info("report of %s: %d of %d chips found", clearing_id, len(out), len(names))
    return out
