"""Strict parsing of the API's query parameters (``bbox``, ``limit``).

Every problem is a :class:`web.errors.BadRequestError` whose message says what was expected,
so a client sees ``400 {"message": "bbox: west (110.0) must be less than east (100.0)"}``
instead of an empty map.
"""

from __future__ import annotations

import logging
import math
import re

from web.errors import BadRequestError

logger = logging.getLogger(__name__)

BBox = tuple[float, float, float, float]

# A plain decimal number: optional sign, digits, optional fraction, optional exponent.
# Stricter than float(), which also takes "nan", "inf", "1_000" and surrounding spaces.
_NUMBER = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_WHOLE = re.compile(r"[0-9]{1,9}")
_MAX_PARAM_CHARS = 200


def parse_bbox(raw: str | None) -> BBox:
    """Parse ``"west,south,east,north"`` in degrees (EPSG:4326, lon/lat).

    Parameters
    ----------
    raw
        The ``bbox`` query parameter.

    Returns
    -------
    tuple of float
        ``(west, south, east, north)``.

    Raises
    ------
    BadRequestError
        When the parameter is missing, does not hold exactly four finite numbers, lies
        outside -180..180 / -90..90, or has ``west >= east`` or ``south >= north`` (a box
        across the antimeridian must be sent as two requests).
    """
    if raw is None or raw.strip() == "":
        raise BadRequestError("bbox is required: give west,south,east,north in degrees", parameter="bbox")
    if len(raw) > _MAX_PARAM_CHARS:
        raise BadRequestError(f"bbox is too long (over {_MAX_PARAM_CHARS} characters)", parameter="bbox")
    parts = raw.split(",")
    if len(parts) != 4:
        raise BadRequestError(
            f"bbox needs 4 comma-separated numbers (west,south,east,north), got {len(parts)} parts",
            parameter="bbox",
        )
    names = ("west", "south", "east", "north")
    values: list[float] = []
    for name, part in zip(names, parts, strict=True):
        text = part.strip()
        value = float(text) if _NUMBER.fullmatch(text) else math.nan
        if not math.isfinite(value):
            raise BadRequestError(f"bbox {name} {text!r} is not a finite number", parameter="bbox")
        values.append(value)
    west, south, east, north = values
    for name, value, limit in (("west", west, 180), ("east", east, 180), ("south", south, 90), ("north", north, 90)):
        if not -limit <= value <= limit:
            raise BadRequestError(f"bbox {name} ({value:g}) is outside -{limit}..{limit} degrees", parameter="bbox")
    if west >= east:
        raise BadRequestError(f"bbox west ({west:g}) must be less than east ({east:g})", parameter="bbox")
    if south >= north:
        raise BadRequestError(f"bbox south ({south:g}) must be less than north ({north:g})", parameter="bbox")
    return west, south, east, north


def parse_limit(raw: str | None, maximum: int) -> int:
    """Parse the optional ``limit`` parameter: a whole number from 1 to ``maximum``.

    Returns ``maximum`` when the parameter is absent.

    Raises
    ------
    BadRequestError
        When it is not a whole number in 1..maximum.
    """
    if raw is None:
        return maximum
    text = raw.strip()
    if not _WHOLE.fullmatch(text):
        raise BadRequestError(f"limit must be a whole number from 1 to {maximum}", parameter="limit")
    value = int(text)
    if not 1 <= value <= maximum:
        raise BadRequestError(f"limit must be from 1 to {maximum}, got {value}", parameter="limit")
    return value
