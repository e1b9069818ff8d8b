"""The one interface every imagery provider offers the ``ingest imagery`` job.

A provider answers two questions:

* :meth:`Provider.search` — which acquisitions cover an AOI in a period with at most a given
  cloud share (the provider's own figure, where it has one), and which records it had to
  reject on the way (an unreadable file, an item without an SCL asset, a refused asset URL);
* :meth:`Provider.fetch` — write one acquisition's bands on the AOI's grid as a COG
  (:func:`ingest.imagery.cog.cog_writer`), which the job keeps in the imagery cache and
  registers in ``scenes``.

Providers: ``sentinelhub`` (:mod:`ingest.imagery.sentinel_hub`), ``stac``
(:mod:`ingest.imagery.stac`) and ``local`` (:mod:`ingest.imagery.local`).
"""

from __future__ import annotations

import datetime as dt
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import shapely

from config import Settings
from ingest.errors import RecordError, SourceError
from ingest.imagery.grid import AoiGrid

logger = logging.getLogger(__name__)

PROVIDERS = ("sentinelhub", "stac", "local")


@dataclass(frozen=True)
class Acquisition:
    """One acquisition date over the AOI, as a provider found it.

    Attributes
    ----------
    scene_id
        The id registered in ``scenes`` (unique per provider and AOI).
    acquired
        Acquisition date (UTC).
    cloud_cover
        The provider's cloud cover of the whole tile(s), percent; ``None`` when unknown.
    source_ids
        Ids of the catalogue items (or the file) behind it; part of the cache key.
    handle
        Whatever the provider needs to fetch it (catalogue items, a local scene).
    """

    scene_id: str
    acquired: dt.date
    cloud_cover: float | None = None
    source_ids: tuple[str, ...] = ()
    handle: Any = field(default=None, compare=False, repr=False)


@dataclass
class SearchResult:
    """Acquisitions found, in date order, and the records rejected while searching."""

    acquisitions: list[Acquisition] = field(default_factory=list)
    rejects: list[RecordError] = field(default_factory=list)


class Provider(ABC):
    """Search acquisitions over an AOI and fetch them onto the AOI's grid."""

    name: ClassVar[str]

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @abstractmethod
    def search(self, aoi: shapely.Geometry, date_from: dt.date, date_to: dt.date, max_cloud: float) -> SearchResult:
        """Acquisitions over ``aoi`` (EPSG:4326) between two dates (inclusive) with the provider's
        cloud cover at most ``max_cloud`` percent.

        Raises
        ------
        ProviderError
            When the catalogue cannot be searched (after retries) or refuses the credentials.
        """

    @abstractmethod
    def fetch(self, acquisition: Acquisition, grid: AoiGrid, path: Path) -> None:
        """Write ``acquisition``'s bands on ``grid`` as the COG ``path`` (all or nothing).

        Raises
        ------
        RecordError
            When this acquisition cannot be read but others may be (it is rejected).
        ProviderError
            When the service fails as a whole (the run fails, the store is unchanged).
        """

    def grid(self, aoi: shapely.Geometry, found: SearchResult) -> AoiGrid:
        """The grid every acquisition is delivered on: by default the AOI's UTM grid at
        ``imagery_resolution_m``."""
        return AoiGrid.for_aoi(aoi, self.settings.imagery_resolution_m)

    def source(self) -> dict[str, object]:
        """What, besides the acquisition and the grid, decides the pixels (part of the cache key)."""
        return {}

    def in_place(self, acquisition: Acquisition, grid: AoiGrid) -> Path | None:
        """A file already on ``grid`` to register as it is, or ``None`` to fetch into the cache."""
        return None

    def synthetic(self, acquisition: Acquisition) -> bool:
        """Whether the acquisition is synthetic (marked so in the store)."""
        return False


def make_provider(name: str, settings: Settings, *, path: Path | None = None) -> Provider:
    """The provider called ``name``.

    Raises
    ------
    SourceError
        For an unknown name, or the ``local`` provider without a folder.
    """
    if name == "sentinelhub":
        from ingest.imagery.sentinel_hub import SentinelHubProvider

        return SentinelHubProvider(settings)
    if name == "stac":
        from ingest.imagery.stac import StacProvider

        return StacProvider(settings)
    if name == "local":
        from ingest.imagery.local import LocalProvider

        if path is None:
            raise SourceError("local", "the local provider needs --path DIR")
        return LocalProvider(settings, Path(path))
    raise SourceError(name, f"no such imagery provider; providers: {', '.join(PROVIDERS)}")
