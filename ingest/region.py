"""A bundled region's seed description (``config/regions/<name>/region.toml``)."""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from pathlib import Path

from config import region_dir
from ingest.errors import SourceError


@dataclass(frozen=True)
class BoundarySeed:
    """One boundary file of the region and its mapping."""

    kind: str
    file: Path
    mapping: Path


@dataclass(frozen=True)
class DemoSpec:
    """The demo AOI and the synthetic series generated over it."""

    aoi: str
    crs: str
    bounds: tuple[float, float, float, float]
    resolution: float
    baseline: tuple[dt.date, dt.date]
    monitor: tuple[dt.date, dt.date]
    revisit_days: int
    seed: int


@dataclass(frozen=True)
class Region:
    name: str
    title: str
    folder: Path
    boundaries: tuple[BoundarySeed, ...]
    demo: DemoSpec


def load_region(name: str) -> Region:
    """Read a bundled region; ``SourceError`` names the file and the missing entry."""
    folder = region_dir(name)
    path = folder / "region.toml"
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
        seeds = tuple(BoundarySeed(b["kind"], folder / b["file"], folder / b["mapping"]) for b in doc["boundaries"])
        d = doc["demo"]
        demo = DemoSpec(
            aoi=d["aoi"], crs=d["crs"], bounds=tuple(float(v) for v in d["bounds"]),  # type: ignore[arg-type]
            resolution=float(d["resolution"]),
            baseline=(dt.date.fromisoformat(d["baseline"][0]), dt.date.fromisoformat(d["baseline"][1])),
            monitor=(dt.date.fromisoformat(d["monitor"][0]), dt.date.fromisoformat(d["monitor"][1])),
            revisit_days=int(d["revisit_days"]), seed=int(d["seed"]),
        )
        return Region(doc["name"], doc.get("title", doc["name"]), folder, seeds, demo)
    except (OSError, tomllib.TOMLDecodeError, KeyError, ValueError, TypeError) as err:
        raise SourceError(str(path), f"bad region description: {err!r}") from err
