"""Strict parsing of the API's query parameters (``bbox``, ``limit``).

Every problem is a :class:`web.errors.BadRequestError` whose message says what was expected,
so a client sees ``400 {"message": "bbox: west (110.0) must be less than east (100.0)"}``
instead of an empty map.
"""

from __future__ import annotations

import logging
import re

from layers import bbox
from layers.bbox import BBox
from layers.errors import BBoxError
from web.errors import BadRequestError

logger = logging.getLogger(__name__)

_WHOLE = re.compile(r"[0-9]{1,9}")


def parse_bbox(raw: str | None) -> BBox:
    """The ``bbox`` query parameter through :func:`layers.bbox.parse_bbox`.

    Raises
    ------
    BadRequestError
        With the parser's message, for the ``bbox`` parameter.
    """
    try:
        return bbox.parse_bbox(raw)
    except BBoxError as err:
        raise BadRequestError(str(err), parameter="bbox") from None


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
