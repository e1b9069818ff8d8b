"""The imagery cache: where a fetched acquisition's COG lives, and whether it can be reused.

One file per request: ``<cache>/<provider>/<aoi>/<YYYYMMDD>_<scene id>_<key>.tif``, where the
key digests everything that decides the pixels — the provider's source (service URL and
collection, catalogue item ids, or the local file's size and time), the grid and the band
layout. The same request therefore finds its file again and downloads nothing; a changed AOI,
resolution or catalogue item gets a new file. Files are only ever created complete (see
:mod:`ingest.imagery.cog`), so an existing file that opens with the expected layout is used.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from config import Settings
from ingest.imagery.cog import BANDS, is_complete
from ingest.imagery.grid import AoiGrid
from ingest.imagery.providers import Acquisition
from layers.files import remove_stale_parts

logger = logging.getLogger(__name__)

LAYOUT_VERSION = 1  # bump when the COG layout changes, so old cache files are not reused
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def _slug(text: str, limit: int = 80) -> str:
    slug = _UNSAFE.sub("-", text).strip("-.") or "x"
    if len(slug) > limit:
        slug = slug[:limit - 9] + "-" + hashlib.sha256(text.encode()).hexdigest()[:8]
    return slug


@dataclass(frozen=True)
class ImageryCache:
    """The cache folder (``imagery_cache_dir``, default ``<data_dir>/imagery``)."""

    root: Path

    @classmethod
    def from_settings(cls, settings: Settings) -> ImageryCache:
        root = Path(settings.imagery_cache_dir) if settings.imagery_cache_dir.strip() else settings.data_dir / "imagery"
        return cls(root.resolve())

    def path_for(self, provider: str, aoi: str, acquisition: Acquisition, grid: AoiGrid, source: Mapping[str, object]) -> Path:
        """Where the COG of ``acquisition`` on ``grid`` from ``source`` is kept."""
        request = {
            "layout": LAYOUT_VERSION, "bands": BANDS, "provider": provider, "source": dict(source),
            "items": list(acquisition.source_ids), "grid": grid.key(),
        }
        key = hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()[:12]
        name = f"{acquisition.acquired:%Y%m%d}_{_slug(acquisition.scene_id)}_{key}.tif"
        return self.root / _slug(provider) / _slug(aoi) / name

    def lookup(self, path: Path, grid: AoiGrid) -> bool:
        """Whether ``path`` holds a complete COG on ``grid`` that can be used as it is.

        Temporary files of interrupted runs beside it are cleared on the way.
        """
        if path.parent.is_dir():
            remove_stale_parts(path)
        return path.is_file() and is_complete(path, grid)
