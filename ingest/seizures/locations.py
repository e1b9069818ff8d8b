"""Where a seizure happened: decimal degrees, degrees-minutes-seconds, UTM, or a place name.

- :func:`parse_degrees`: ``13.66``, ``13°39'36"N``, ``13 39 36.5 N``, ``N 13°39.6'``, ``107.45E``;
  a hemisphere letter of the other axis (``N`` in the lon column) says lat/lon are swapped; a
  decimal comma is refused rather than guessed.
- :func:`parse_utm_zone` / :func:`utm_to_lonlat`: ``48N``, ``48 north``, ``48P`` (an MGRS latitude
  band: C-M south, P-X north; ``N`` and ``S`` are read as hemispheres), with easting/northing in
  metres.
- :class:`Gazetteer`: country names (and common aliases and ISO codes) and border-crossing names
  from the admin boundaries the region ships, resolved to a point with a precision level.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer

logger = logging.getLogger(__name__)

PRECISIONS = ("exact", "place", "district", "province", "country")
_HEMI = {"lat": ("N", "S"), "lon": ("E", "W")}
_DMS_CHARS = re.compile(r"^[\d\s.°º˚'′’\"″”:+\-NSEWnsewdms]+$")
_NUM = re.compile(r"\d+(?:\.\d+)?")
_ZONE = re.compile(r"^\s*(\d{1,2})\s*([A-Za-z]*)\s*$")
COUNTRY_ALIASES = {
    "Vietnam": ("viet nam", "vietnam", "vn", "vnm", "socialist republic of viet nam", "socialist republic of vietnam"),
    "Laos": ("laos", "lao pdr", "lao", "la", "lao people's democratic republic", "lao peoples democratic republic"),
    "Cambodia": ("cambodia", "kh", "khm", "kingdom of cambodia", "kampuchea"),
    "Myanmar": ("myanmar", "burma", "mm", "mmr", "republic of the union of myanmar"),
    "Thailand": ("thailand", "th", "tha", "kingdom of thailand", "siam"),
    "China": ("china", "cn", "chn", "prc", "people's republic of china", "peoples republic of china", "p.r. china"),
}


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9']+", " ", text.lower()).strip()


def parse_degrees(text: str, axis: str) -> float:
    """Decimal degrees from one coordinate cell (see the module docstring); ``ValueError`` says why not."""
    t = text.strip()
    if re.fullmatch(r"-?\d+,\d+", t):
        raise ValueError("a decimal comma; write a decimal point (13.66)")
    if not _DMS_CHARS.match(t) or not _NUM.search(t):
        raise ValueError("not a coordinate (decimal degrees, degrees-minutes-seconds or UTM)")
    letters = re.findall(r"[NSEWnsew]", re.sub(r"(?<=\d)[dms](?=[\s\d.]|$)", " ", t))
    letters = [c.upper() for c in letters]
    other = "lon" if axis == "lat" else "lat"
    if any(c in _HEMI[other] for c in letters):
        raise ValueError(f"hemisphere {letters[0]!r} belongs to {other}: are lat and lon swapped?")
    if len(letters) > 1:
        raise ValueError("more than one hemisphere letter")
    numbers = [float(n) for n in _NUM.findall(t)]
    if len(numbers) > 3:
        raise ValueError("more than degrees, minutes and seconds")
    deg, minutes, seconds = (numbers + [0.0, 0.0])[:3]
    if minutes >= 60 or seconds >= 60:
        raise ValueError("minutes and seconds must be below 60")
    if len(numbers) > 1 and not deg.is_integer():
        raise ValueError("decimal degrees followed by minutes")
    negative = t.lstrip().startswith("-")
    if negative and letters:
        raise ValueError("both a minus sign and a hemisphere letter")
    value = deg + minutes / 60.0 + seconds / 3600.0
    if negative or (letters and letters[0] in ("S", "W")):
        value = -value
    return value


def parse_utm_zone(text: str) -> tuple[int, bool]:
    """(zone, north) from ``48N``, ``48 north``, ``48P``; ``ValueError`` says why not."""
    t = text.strip().lower().replace("north", "n").replace("south", "s")
    m = _ZONE.match(t)
    if not m:
        raise ValueError("not a UTM zone (e.g. 48N)")
    zone, letter = int(m.group(1)), m.group(2).upper()
    if not 1 <= zone <= 60:
        raise ValueError("UTM zones are 1 to 60")
    if letter in ("N", "S"):
        return zone, letter == "N"
    if len(letter) == 1 and letter in "CDEFGHJKLMPQRTUVWX":
        return zone, letter >= "N"
    if not letter:
        raise ValueError("UTM zone without a hemisphere; write 48N or 48S")
    raise ValueError(f"{letter!r} is neither a hemisphere (N, S) nor a latitude band")


def utm_to_lonlat(zones: Sequence[tuple[int, bool]], easting: np.ndarray, northing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lon/lat of UTM coordinates, one transformer per distinct zone."""
    lon = np.full(len(zones), np.nan)
    lat = np.full(len(zones), np.nan)
    keys = np.array([z * (1 if north else -1) for z, north in zones]) if len(zones) else np.array([], dtype=int)
    for key in np.unique(keys):
        pos = np.flatnonzero(keys == key)
        epsg = (32600 if key > 0 else 32700) + abs(int(key))
        t = Transformer.from_crs(epsg, 4326, always_xy=True)
        lon[pos], lat[pos] = t.transform(easting[pos], northing[pos])
    return lon, lat


@dataclass(frozen=True)
class Place:
    """A resolved place: its point (lon, lat), the precision, and the name it matched."""

    lon: float
    lat: float
    precision: str
    name: str


class Gazetteer:
    """Country and border-crossing names -> points (see the module docstring)."""

    def __init__(self, countries: gpd.GeoDataFrame, crossings: gpd.GeoDataFrame | None = None) -> None:
        self.countries: dict[str, Place] = {}
        self.places: dict[str, Place] = {}
        if len(countries):
            points = shapely.point_on_surface(countries.to_crs(4326).geometry.values)
            for name, pt in zip(countries["name"], points, strict=True):
                place = Place(float(pt.x), float(pt.y), "country", str(name))
                for alias in (name, *COUNTRY_ALIASES.get(str(name), ())):
                    self.countries[_norm(str(alias))] = place
        if crossings is not None and len(crossings):
            for name, pt in zip(crossings["name"], crossings.to_crs(4326).geometry.values, strict=True):
                place = Place(float(pt.x), float(pt.y), "place", str(name))
                for alias in (str(name), *str(name).split(" / ")):
                    self.places.setdefault(_norm(alias), place)

    def __bool__(self) -> bool:
        return bool(self.countries)

    def country(self, text: str) -> Place | None:
        return self.countries.get(_norm(text))

    def place(self, text: str) -> Place | None:
        """A border crossing (by its name or either side of it), else a country named in full."""
        key = _norm(text)
        hit = self.places.get(key)
        if hit is not None:
            return hit
        country = self.countries.get(key)
        return country if country is not None and len(key) > 3 else None
