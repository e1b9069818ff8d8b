"""The one parser of ``west,south,east,north`` boxes, for the API, the map and exports."""

from __future__ import annotations

import math
import re

from layers.errors import BBoxError

BBox = tuple[float, float, float, float]

# A plain decimal number: optional sign, digits, optional fraction, optional exponent.
# Stricter than float(), which also takes "nan", "inf", "1_000" and surrounding spaces.
_NUMBER = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
MAX_CHARS = 200


def parse_bbox(raw: str | None) -> BBox:
    """Parse ``"west,south,east,north"`` in degrees (EPSG:4326, lon/lat).

    Returns
    -------
    tuple of float
        ``(west, south, east, north)``.

    Raises
    ------
    BBoxError
        When the text is missing, does not hold exactly four finite numbers, lies outside
        -180..180 / -90..90, or has ``west >= east`` or ``south >= north`` (a box across the
        antimeridian must be given as two boxes). The message says which part is wrong.
    """
    if raw is None or raw.strip() == "":
        raise BBoxError("bbox is required: give west,south,east,north in degrees")
    if len(raw) > MAX_CHARS:
        raise BBoxError(f"bbox is too long (over {MAX_CHARS} characters)")
    parts = raw.split(",")
    if len(parts) != 4:
        raise BBoxError(f"bbox needs 4 comma-separated numbers (west,south,east,north), got {len(parts)} parts")
    names = ("west", "south", "east", "north")
    values: list[float] = []
    for name, part in zip(names, parts, strict=True):
        text = part.strip()
        value = float(text) if _NUMBER.fullmatch(text) else math.nan
        if not math.isfinite(value):
            raise BBoxError(f"bbox {name} {text!r} is not a finite number")
        values.append(value)
    west, south, east, north = values
    for name, value, limit in (("west", west, 180), ("east", east, 180), ("south", south, 90), ("north", north, 90)):
        if not -limit <= value <= limit:
            raise BBoxError(f"bbox {name} ({value:g}) is outside -{limit}..{limit} degrees")
    if west >= east:
        raise BBoxError(f"bbox west ({west:g}) must be less than east ({east:g})")
    if south >= north:
        raise BBoxError(f"bbox south ({south:g}) must be less than north ({north:g})")
    return west, south, east, north
