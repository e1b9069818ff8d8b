"""GeoPackage geometry blobs (OGC 12-128r18 §2.1.3): a small header with an envelope, then WKB.

Encoding and decoding are vectorised through shapely's WKB functions; the fixed-size headers
are built as one array and only joined to their WKB per geometry.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np
import shapely
from numpy.typing import NDArray

# magic, version, flags, srs_id, then the envelope minx, maxx, miny, maxy (absent when empty)
_HEADER = np.dtype([("magic", "S2"), ("version", "u1"), ("flags", "u1"), ("srs_id", "<i4"), ("envelope", "<f8", (4,))])
_EMPTY_HEADER_BYTES = 8
ENVELOPE_END = 40
"""Length of a blob's first bytes that hold its header's XY envelope, when it has one."""
_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}
_LITTLE_ENDIAN = 0x01
_ENVELOPE_XY = 0x02  # envelope indicator 1, shifted left by one
_EMPTY = 0x10


def encode(geoms: NDArray[np.object_], srs_id: int) -> list[bytes | None]:
    """GeoPackage blobs for an array of shapely geometries (``None`` stays ``None``)."""
    geoms = np.asarray(geoms, dtype=object)
    out: list[bytes | None] = [None] * len(geoms)
    present = ~shapely.is_missing(geoms)
    if not present.any():
        return out
    idx = np.flatnonzero(present)
    sub = geoms[idx]
    wkb = shapely.to_wkb(sub, byte_order=1, flavor="iso")
    empty = shapely.is_empty(sub)
    head = np.zeros(len(sub), dtype=_HEADER)
    head["magic"] = b"GP"
    head["flags"] = np.where(empty, _LITTLE_ENDIAN | _EMPTY, _LITTLE_ENDIAN | _ENVELOPE_XY)
    head["srs_id"] = srs_id
    head["envelope"] = shapely.bounds(sub)[:, [0, 2, 1, 3]]
    heads = head.tobytes()
    size = _HEADER.itemsize
    for k, (i, blob, is_empty) in enumerate(zip(idx.tolist(), wkb.tolist(), empty.tolist(), strict=True)):
        start = k * size
        out[i] = heads[start : start + (_EMPTY_HEADER_BYTES if is_empty else size)] + blob
    return out


def header_length(blob: bytes) -> int:
    """Length of a blob's header in bytes; ``ValueError`` when it is not a GeoPackage blob."""
    if len(blob) < 8 or blob[:2] != b"GP":
        raise ValueError("not a GeoPackage geometry blob (no 'GP' magic)")
    indicator = (blob[3] >> 1) & 0x07
    if indicator not in _ENVELOPE_BYTES:
        raise ValueError(f"bad envelope indicator {indicator}")
    return 8 + _ENVELOPE_BYTES[indicator]


def decode(blobs: list[bytes | None]) -> NDArray[np.object_]:
    """Shapely geometries for GeoPackage blobs (``None`` for NULL)."""
    wkb = [None if b is None else bytes(b[header_length(b):]) for b in blobs]
    return np.asarray(shapely.from_wkb(wkb), dtype=object)


def is_empty(blob: bytes | None) -> bool:
    """``ST_IsEmpty`` for the GeoPackage R-tree triggers."""
    if blob is None:
        return True
    return bool(blob[3] & _EMPTY)


def envelope(blob: bytes) -> tuple[float, float, float, float]:
    """(minx, maxx, miny, maxy) of a blob, from its header or else from its geometry."""
    if ((blob[3] >> 1) & 0x07) != 0:
        return struct.unpack_from("<4d" if blob[3] & _LITTLE_ENDIAN else ">4d", blob, 8)
    minx, miny, maxx, maxy = shapely.bounds(shapely.from_wkb(blob[header_length(blob):]))
    return float(minx), float(maxx), float(miny), float(maxy)


def envelopes(blobs: Sequence[bytes | None]) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Header envelopes of many blobs at once, as ``ST_MinX`` … ``ST_MaxY`` read them.

    A blob may be cut to its first :data:`ENVELOPE_END` bytes. Returns ``(bounds, indexed)``:
    ``bounds`` of shape (n, 4) as (minx, maxx, miny, maxy), NaN where the header has no envelope
    (then :func:`envelope` of the whole blob reads the geometry); ``indexed`` is whether the
    GeoPackage R-tree triggers index the blob (not NULL and not flagged empty).

    Raises
    ------
    ValueError
        For a blob that is not a GeoPackage geometry or whose header is cut short.
    """
    n = len(blobs)
    lengths = np.fromiter((-1 if b is None else len(b) for b in blobs), dtype=np.int64, count=n)
    pad = bytes(ENVELOPE_END)
    raw = b"".join(pad if b is None else bytes(b[:ENVELOPE_END]).ljust(ENVELOPE_END, b"\0") for b in blobs)
    heads = np.frombuffer(raw, dtype=np.uint8).reshape(n, ENVELOPE_END)
    present = lengths >= 0
    flags = heads[:, 3]
    indicator = (flags >> 1) & 0x07
    magic = (heads[:, 0] == ord("G")) & (heads[:, 1] == ord("P"))
    needed = 8 + np.where(indicator > 0, 32, 0)
    bad = present & (~magic | (lengths < needed) | (indicator > 4))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"blob {i} is not a GeoPackage geometry blob (bad magic, envelope indicator or length)")
    little = heads[:, 8:ENVELOPE_END].copy().view("<f8")
    big = heads[:, 8:ENVELOPE_END].copy().view(">f8").astype(np.float64)
    bounds = np.where((flags & _LITTLE_ENDIAN).astype(bool)[:, None], little, big)
    bounds[~present | (indicator == 0)] = np.nan
    return bounds, present & ((flags & _EMPTY) == 0)
